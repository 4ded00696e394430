namespace FlanT5.Poplar.Interop;

/// <summary>
/// How the model is placed on the device's IPUs (ft5_plan_desc); ipu = (replica * tp + tp_rank) * pp + stage.
/// A new instance holds the library's defaults (ft5_plan_desc_init: one IPU, GPipe, everything on chip).
/// </summary>
public sealed record PlanDescription
{
    public unsafe PlanDescription()
    {
        ft5_plan_desc d;
        Ft5Native.ft5_plan_desc_init(&d);
        TensorParallel = (int)d.tensor_parallel;
        PipelineStages = (int)d.pipeline_stages;
        Replicas = (int)d.replicas;
        Schedule = (PipelineSchedule)d.schedule;
        Recompute = d.recompute != 0;
        WeightsLocation = (MemoryLocation)d.weights_location;
        OptimizerLocation = (MemoryLocation)d.optimizer_location;
        WeightsOnly = d.weights_only != 0;
        Precision = (TensorDataType)d.precision;
        StochasticRounding = d.stochastic_rounding != 0;
        DetectOverflow = d.detect_overflow != 0;
        Fp16Mitigations = (HalfMitigations)d.fp16_mitigations;
        ActivationRanges = d.activation_ranges != 0;
        MasterWeights = d.master_weights != 0;
    }

    public int TensorParallel { get; init; }
    public int PipelineStages { get; init; }
    public int Replicas { get; init; }

    /// <summary>Encoder layers per pipeline stage (PipelineStages entries); null = even split, encoder first.</summary>
    public IReadOnlyList<int>? EncoderLayersPerStage { get; init; }

    /// <summary>Decoder layers per pipeline stage (PipelineStages entries); null = even split.</summary>
    public IReadOnlyList<int>? DecoderLayersPerStage { get; init; }

    public PipelineSchedule Schedule { get; init; }

    /// <summary>Recompute each layer's activations in the backward pass instead of keeping them.</summary>
    public bool Recompute { get; init; }

    public MemoryLocation WeightsLocation { get; init; }
    public MemoryLocation OptimizerLocation { get; init; }

    /// <summary>Weights only, no gradients or AdamW moments (a quarter of the memory): forward passes and decoding
    /// (conversion, serving); training calls then throw <see cref="Ft5NotSupportedException"/>.</summary>
    public bool WeightsOnly { get; init; }

    /// <summary>
    /// The data-parallel replicas this process runs when the run's host instances share them: replicas
    /// [FirstLocalReplica, FirstLocalReplica + LocalReplicas) of <see cref="Replicas"/>; LocalReplicas 0 = all of them
    /// (one process). Every instance creates the same session after joining the run; its batches then hold the
    /// local replicas' rows only. The Poplar builder only.
    /// </summary>
    public int FirstLocalReplica { get; init; }

    public int LocalReplicas { get; init; }

    /// <summary>The graph's number format: Float32, or Float16 as Flan-T5 ran on IPUs (weights and activations in fp16;
    /// matmul partials, RMS-norm statistics, the loss, the gradient accumulators and the AdamW moments in fp32).
    /// Tensors still cross the ABI as fp32.</summary>
    public TensorDataType Precision { get; init; }

    /// <summary>Float16 only: the optimizer step rounds the updated weights stochastically (seeded by the model's seed
    /// and the step), else to nearest.</summary>
    public bool StochasticRounding { get; init; }

    /// <summary>Every program stops at the first op whose result overflows or is NaN, and the call throws
    /// <see cref="Ft5FloatingPointException"/> naming it.</summary>
    public bool DetectOverflow { get; init; }

    /// <summary>Float16 and weights-only: the forward pass's and decoding's fp16 mitigations.</summary>
    public HalfMitigations Fp16Mitigations { get; init; }

    /// <summary>Each forward also measures every module's largest |activation| (<see cref="T5Session.ActivationRanges"/>).</summary>
    public bool ActivationRanges { get; init; }

    /// <summary>Float16 training: AdamW updates an fp32 master copy of every weight and rounds it to nearest into the
    /// fp16 weight; the weight slot reads the master and writes both. Not with <see cref="StochasticRounding"/>.</summary>
    public bool MasterWeights { get; init; }

    /// <summary>The descriptor without the per-stage arrays; the caller pins those (see <see cref="StageArray"/>).</summary>
    internal unsafe ft5_plan_desc ToNative()
    {
        ft5_plan_desc d;
        Ft5Native.ft5_plan_desc_init(&d);
        d.tensor_parallel = Count(TensorParallel, nameof(TensorParallel));
        d.pipeline_stages = Count(PipelineStages, nameof(PipelineStages));
        d.replicas = Count(Replicas, nameof(Replicas));
        d.schedule = (ft5_pipeline_schedule)Schedule;
        d.recompute = Recompute ? 1 : 0;
        d.weights_location = (ft5_memory_location)WeightsLocation;
        d.optimizer_location = (ft5_memory_location)OptimizerLocation;
        d.weights_only = WeightsOnly ? 1 : 0;
        d.first_local_replica = Count(FirstLocalReplica, nameof(FirstLocalReplica));
        d.local_replicas = Count(LocalReplicas, nameof(LocalReplicas));
        d.precision = (ft5_dtype)Precision;
        d.stochastic_rounding = StochasticRounding ? 1 : 0;
        d.detect_overflow = DetectOverflow ? 1 : 0;
        d.fp16_mitigations = (uint)Fp16Mitigations;
        d.activation_ranges = ActivationRanges ? 1 : 0;
        d.master_weights = MasterWeights ? 1 : 0;
        return d;
    }

    /// <summary>A per-stage list as the uint array the descriptor points to; null stays null.</summary>
    internal uint[]? StageArray(IReadOnlyList<int>? layers, string name)
    {
        if (layers is null) return null;
        if (layers.Count != PipelineStages)
        {
            throw new ArgumentException(
                $"PlanDescription.{name} has {layers.Count} entries; expected one per pipeline stage ({PipelineStages})", name);
        }
        return layers.Select(n => Count(n, name)).ToArray();
    }

    private static uint Count(int value, string name) => value >= 0
        ? (uint)value
        : throw new ArgumentOutOfRangeException(name, value, $"PlanDescription.{name} has {value}; expected 0 or more");
}
