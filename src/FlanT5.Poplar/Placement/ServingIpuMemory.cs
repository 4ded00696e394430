namespace FlanT5.Poplar.Placement;

/// <summary>
/// Memory one IPU of a serving (weights-only) session needs, by category (bytes): weights, the KV cache of its
/// decoder layers, the encoder output, the working set of the largest pass it runs (one encoder layer over the source,
/// or one decode step), and the fixed overhead reserve. Streaming: the weights kept in streaming memory when they are
/// loaded layer by layer.
/// </summary>
public sealed record ServingIpuMemory
{
    public required int Ipu { get; init; }
    public required int Replica { get; init; }
    public required int Stage { get; init; }
    public required int TpRank { get; init; }

    /// <summary>On-chip weights: the whole shard, or the phase buffers of the largest unit when weights stream.</summary>
    public required long Weights { get; init; }

    /// <summary>Self-attention K and V of every generated position and cross-attention K and V of every source token.</summary>
    public required long KvCache { get; init; }

    /// <summary>[B,S,d], kept from the encoder pass until every decoder layer has projected its cross-attention K and V.</summary>
    public required long EncoderOutput { get; init; }

    /// <summary>Transient tensors of the largest pass: one encoder layer over the source, or one decode step.</summary>
    public required long WorkingSet { get; init; }

    /// <summary>Reserve for code, vertex state, exchange buffers and matmul temporaries.</summary>
    public required long Overhead { get; init; }

    public required long Capacity { get; init; }
    public required long StreamingUsed { get; init; }
    public required long StreamingCapacity { get; init; }

    /// <summary>The largest on-chip tensors, largest first.</summary>
    public required IReadOnlyList<TensorFootprint> LargestTensors { get; init; }

    public long Total => Weights + KvCache + EncoderOutput + WorkingSet + Overhead;
    public bool FitsOnChip => Total <= Capacity;
    public bool FitsStreaming => StreamingUsed <= StreamingCapacity;
    public bool Fits => FitsOnChip && FitsStreaming;
    public long OnChipOverflow => Math.Max(0, Total - Capacity);
    public long StreamingOverflow => Math.Max(0, StreamingUsed - StreamingCapacity);

    /// <summary>"IPU 3 (replica 0, stage 0, tp rank 3)".</summary>
    public string Where => $"IPU {Ipu} (replica {Replica}, stage {Stage}, tp rank {TpRank})";
}
