namespace FlanT5.Poplar.Placement;

/// <summary>
/// The shape of one training step: micro-batch, sequence lengths, global batch and number formats.
/// Defaults are the reference fine-tuning run (micro batch 1, 512/512 tokens, global batch 128, fp16 weights and
/// activations, fp32 Adam moments).
/// </summary>
public sealed record TrainingShape
{
    public int MicroBatch { get; init; } = 1;
    public int SourceLength { get; init; } = 512;
    public int TargetLength { get; init; } = 512;
    public int GlobalBatch { get; init; } = 128;

    /// <summary>Weights, activations and matmul inputs.</summary>
    public NumericPrecision Precision { get; init; } = NumericPrecision.Fp16;

    /// <summary>Adam first and second moments (fp32 in the reference).</summary>
    public NumericPrecision OptimizerStatePrecision { get; init; } = NumericPrecision.Fp32;

    /// <summary>
    /// Gradient accumulators across micro-batches. fp32 by default: summing 128 fp16 micro-batch gradients loses
    /// the small ones; this is the conservative (larger) choice for the memory plan.
    /// </summary>
    public NumericPrecision AccumulatorPrecision { get; init; } = NumericPrecision.Fp32;

    /// <summary>fp16 weights with an fp32 master copy beside the Adam moments (training.master_weights); the reference
    /// keeps none.</summary>
    public bool MasterWeights { get; init; }

    /// <summary>Bytes of optimizer state per parameter element: Adam m and v, and the master copy when kept.</summary>
    public int OptimizerStateBytes => 2 * OptimizerStatePrecision.Bytes() + (MasterWeights && Precision == NumericPrecision.Fp16 ? 4 : 0);

    /// <summary>Micro-batches per replica per step: global batch / (replicas × micro batch).</summary>
    public int GradientAccumulation(PlacementPlan plan) => GlobalBatch / (plan.Replicas * MicroBatch);

    /// <summary>Throws <see cref="InvalidPlanException"/> naming the first setting that does not fit the plan.</summary>
    public void Validate(PlacementPlan plan)
    {
        if (MicroBatch < 1) throw new InvalidPlanException("micro_batch", $"{MicroBatch}; expected >= 1");
        if (SourceLength < 1) throw new InvalidPlanException("source_length", $"{SourceLength}; expected >= 1");
        if (TargetLength < 1) throw new InvalidPlanException("target_length", $"{TargetLength}; expected >= 1");
        if (GlobalBatch < 1) throw new InvalidPlanException("global_batch", $"{GlobalBatch}; expected >= 1");
        if (GlobalBatch % (plan.Replicas * MicroBatch) != 0)
            throw new InvalidPlanException("global_batch",
                $"{GlobalBatch} is not a multiple of replicas {plan.Replicas} × micro_batch {MicroBatch}");
    }
}
