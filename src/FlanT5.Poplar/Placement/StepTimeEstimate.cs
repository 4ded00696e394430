namespace FlanT5.Poplar.Placement;

/// <summary>
/// Predicted time of one optimizer step (all micro-batches of the global batch), by component, in seconds.
/// The IPU runs bulk-synchronously: compute, exchange and streaming transfers of one program do not overlap,
/// so the components add up.
/// </summary>
public sealed record StepTimeEstimate
{
    /// <summary>Matmul FLOPs (forward, backward, recomputation) at the target's peak × the efficiency factor.</summary>
    public required double ComputeSeconds { get; init; }

    /// <summary>All-reduces and all-gathers inside the tensor-parallel group over IPU-Links.</summary>
    public required double TensorParallelSeconds { get; init; }

    /// <summary>Idle stages while the pipeline fills and drains: (stages − 1) slowest-stage micro-batch times.</summary>
    public required double PipelineBubbleSeconds { get; init; }

    /// <summary>Activations and their gradients sent between pipeline stages.</summary>
    public required double PipelineTransferSeconds { get; init; }

    /// <summary>
    /// Gradient reduction (and, with sharded streaming state, weight gathering) across the replicas of one IPU-Link
    /// domain, over IPU-Links.
    /// </summary>
    public required double DataParallelSeconds { get; init; }

    /// <summary>
    /// The same reduction's part between IPU-Link domains, over GW-Links: zero while every replica sits in one
    /// domain (up to an IPU-POD64), whatever the number of host instances (instances change who drives a replica,
    /// not the links its gradients take).
    /// </summary>
    public double GwLinkSeconds { get; init; }

    /// <summary>Weights, gradients, optimizer state and stored activations moved to and from streaming memory.</summary>
    public required double StreamingSeconds { get; init; }

    /// <summary>Token ids and labels from the host over PCIe.</summary>
    public required double HostIoSeconds { get; init; }

    /// <summary>Global syncs between compute and exchange phases (15 ns per hop).</summary>
    public required double SyncSeconds { get; init; }

    /// <summary>Matmul FLOPs one IPU of the slowest stage executes per step.</summary>
    public required double FlopsPerIpu { get; init; }

    /// <summary>Bytes one IPU moves to and from streaming memory per step.</summary>
    public required double StreamingBytesPerIpu { get; init; }

    public required int MicroBatchesPerReplica { get; init; }
    public required double ComputeEfficiency { get; init; }

    public double TotalSeconds => ComputeSeconds + TensorParallelSeconds + PipelineBubbleSeconds + PipelineTransferSeconds
                                  + DataParallelSeconds + GwLinkSeconds + StreamingSeconds + HostIoSeconds + SyncSeconds;

    /// <summary>The components in display order, with their names.</summary>
    public IReadOnlyList<(string Name, double Seconds)> Components =>
    [
        ("compute", ComputeSeconds),
        ("tensor-parallel collectives", TensorParallelSeconds),
        ("pipeline bubble", PipelineBubbleSeconds),
        ("pipeline transfers", PipelineTransferSeconds),
        ("data-parallel reduction", DataParallelSeconds),
        ("GW-Link reduction", GwLinkSeconds),
        ("streaming memory", StreamingSeconds),
        ("host I/O", HostIoSeconds),
        ("sync", SyncSeconds),
    ];
}
