namespace FlanT5.Poplar.Placement;

/// <summary>
/// Predicted times of a serving session, in seconds: one decode step (one new token for every row, the components
/// added as the IPU runs bulk-synchronously) and the prefill that starts a batch (the encoder over the source and
/// every decoder layer's cross-attention K and V), and the tokens per second they give.
/// </summary>
public sealed record DecodeTimeEstimate
{
    /// <summary>Matmul FLOPs of one step at the target's peak × the efficiency factor.</summary>
    public required double ComputeSeconds { get; init; }

    /// <summary>Reading the step's weights (decoder layers and LM head) and the KV cache from tile memory.</summary>
    public required double TileMemorySeconds { get; init; }

    /// <summary>All-reduces (and the LM head's all-gather) inside the tensor-parallel group over IPU-Links.</summary>
    public required double TensorParallelSeconds { get; init; }

    /// <summary>Loading the step's weights from streaming memory (phased execution only).</summary>
    public required double StreamingSeconds { get; init; }

    /// <summary>Hidden states sent between pipeline stages.</summary>
    public required double PipelineTransferSeconds { get; init; }

    /// <summary>Token ids to and from the host over PCIe.</summary>
    public required double HostIoSeconds { get; init; }

    /// <summary>Global syncs between compute and exchange phases.</summary>
    public required double SyncSeconds { get; init; }

    /// <summary>Encoder pass and cross-attention K/V projections, once per batch.</summary>
    public required double PrefillSeconds { get; init; }

    public required int Batch { get; init; }
    public required int TargetLength { get; init; }
    public required int Replicas { get; init; }

    /// <summary>Matmul FLOPs of one step on one tp rank (summed over the pipeline stages a step passes).</summary>
    public required double FlopsPerIpuPerStep { get; init; }

    /// <summary>Bytes one tp rank reads from tile memory per step (summed over stages).</summary>
    public required double TileBytesReadPerIpuPerStep { get; init; }

    /// <summary>Bytes one tp rank loads from streaming memory per step (phased execution; summed over stages).</summary>
    public required double StreamedBytesPerIpuPerStep { get; init; }
    public required double ComputeEfficiency { get; init; }

    public double StepSeconds => ComputeSeconds + TileMemorySeconds + TensorParallelSeconds + StreamingSeconds
                                 + PipelineTransferSeconds + HostIoSeconds + SyncSeconds;

    /// <summary>Tokens all replicas generate per second while decoding: replicas × rows / step time.</summary>
    public double DecodeTokensPerSecond => Replicas * Batch / StepSeconds;

    /// <summary>Over a whole batch that generates <see cref="TargetLength"/> tokens per row, prefill included.</summary>
    public double TokensPerSecond => Replicas * (double)Batch * TargetLength / (PrefillSeconds + TargetLength * StepSeconds);

    /// <summary>The step's components in display order, with their names.</summary>
    public IReadOnlyList<(string Name, double Seconds)> Components =>
    [
        ("compute", ComputeSeconds),
        ("tile-memory reads", TileMemorySeconds),
        ("tensor-parallel collectives", TensorParallelSeconds),
        ("streaming weight loads", StreamingSeconds),
        ("pipeline transfers", PipelineTransferSeconds),
        ("host I/O", HostIoSeconds),
        ("sync", SyncSeconds),
    ];
}
