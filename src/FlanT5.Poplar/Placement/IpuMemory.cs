namespace FlanT5.Poplar.Placement;

/// <summary>
/// Memory one IPU needs under a plan, by category (bytes). On-chip: weights, gradient accumulators, Adam moments
/// (m and v), activations kept for the backward pass (all micro-batches in flight), the transient working set of
/// the layer being run, and the fixed overhead reserve. Streaming: what lives in streaming memory.
/// </summary>
public sealed record IpuMemory
{
    public required int Ipu { get; init; }
    public required int Replica { get; init; }
    public required int Stage { get; init; }
    public required int TpRank { get; init; }

    public required long Weights { get; init; }
    public required long Gradients { get; init; }
    public required long OptimizerState { get; init; }

    /// <summary>
    /// Whether <see cref="OptimizerState"/> stays on chip through the whole step. Streamed from remote buffers (with the
    /// weights on chip), it is one parameter's state, fetched for that parameter's update: the optimizer step runs
    /// after the passes, so it never meets the activations or the working set.
    /// </summary>
    public bool OptimizerStateResident { get; init; } = true;

    /// <summary>Activations kept for the backward pass, for <see cref="InFlightMicroBatches"/> micro-batches.</summary>
    public required long Activations { get; init; }

    /// <summary>Transient tensors of the layer being run (its backward buffers, its recomputed activations).</summary>
    public required long WorkingSet { get; init; }

    /// <summary>Reserve for code, vertex state, exchange buffers and matmul temporaries.</summary>
    public required long Overhead { get; init; }

    public required long Capacity { get; init; }
    public required long StreamingUsed { get; init; }
    public required long StreamingCapacity { get; init; }
    public required int InFlightMicroBatches { get; init; }

    /// <summary>The largest on-chip tensors, largest first.</summary>
    public required IReadOnlyList<TensorFootprint> LargestTensors { get; init; }

    public long Total => Weights + Gradients + Overhead
                         + (OptimizerStateResident ? OptimizerState + Activations + WorkingSet
                             : Math.Max(OptimizerState, Activations + WorkingSet));
    public bool FitsOnChip => Total <= Capacity;
    public bool FitsStreaming => StreamingUsed <= StreamingCapacity;
    public bool Fits => FitsOnChip && FitsStreaming;
    public long OnChipOverflow => Math.Max(0, Total - Capacity);
    public long StreamingOverflow => Math.Max(0, StreamingUsed - StreamingCapacity);

    /// <summary>"IPU 3 (replica 0, stage 3, tp rank 0)".</summary>
    public string Where => $"IPU {Ipu} (replica {Replica}, stage {Stage}, tp rank {TpRank})";
}
