using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// One fine-tuning configuration of the reference implementation (Graphcore examples, nlp/t5/popxl, SDK 3.4,
/// config/finetuning.yml): no pipeline, every layer across all tp IPUs as a phase, weights and optimizer state in
/// streaming memory, recomputation of everything but the LM head, global batch 128, micro batch 1, 512/512 tokens,
/// fp16. <see cref="PublishedStepSeconds"/> is the step time the reference's documentation reports, where it
/// reports one; <see cref="Instances"/> the host processes it is launched as (poprun --num-instances).
/// </summary>
public sealed record ReferencePreset(
    string Name, string ModelSize, int TensorParallel, int Replicas, int GradientAccumulation,
    double? PublishedStepSeconds, int Instances = 1)
{
    public const int GlobalBatch = 128;
    public const int MicroBatch = 1;
    public const int SequenceLength = 512;
    public const NumericPrecision Precision = NumericPrecision.Fp16;

    public int Ipus => TensorParallel * Replicas;

    public T5ModelConfig Model => T5ModelConfig.FlanT5(ModelSize);

    public PlacementPlan Plan => PlacementPlan.Create(Model, TensorParallel, pipelineStages: 1, Replicas,
        recompute: true, weights: TensorLocation.Streaming, optimizer: TensorLocation.Streaming);

    public TrainingShape Shape => new()
    {
        MicroBatch = MicroBatch,
        SourceLength = SequenceLength,
        TargetLength = SequenceLength,
        GlobalBatch = GlobalBatch,
        Precision = Precision,
    };

    public IpuTarget Target => IpuTarget.Mk2(Ipus) with { Name = $"{Ipus / 4} x IPU-M2000 ({Ipus} Mk2 GC200 IPUs)" };
}

/// <summary>
/// The reference presets, kept in this one place so configuration presets (YAML) can be cross-checked against them.
/// Values: xxl_pod16 TP16 DP1 GA128; xxl_pod64 TP16 DP4 GA32; xl_pod8 TP8 DP1 GA128; xl_pod16 TP8 DP2 GA64.
/// Published times: XXL on IPU-POD16 ≈ 36 s per step (≈ 3.6 samples/s, 500 steps ≈ 5 h); XL on 8 IPUs ≈ 16 s per
/// step. No time is published for the POD64 or the XL POD16 configuration.
/// </summary>
public static class ReferencePresets
{
    public static IReadOnlyList<ReferencePreset> All { get; } =
    [
        new("xxl-pod16", "xxl", TensorParallel: 16, Replicas: 1, GradientAccumulation: 128, PublishedStepSeconds: 36),
        new("xxl-pod64", "xxl", TensorParallel: 16, Replicas: 4, GradientAccumulation: 32, PublishedStepSeconds: null, Instances: 4),
        new("xl-pod8", "xl", TensorParallel: 8, Replicas: 1, GradientAccumulation: 128, PublishedStepSeconds: 16),
        new("xl-pod16", "xl", TensorParallel: 8, Replicas: 2, GradientAccumulation: 64, PublishedStepSeconds: null),
    ];

    /// <summary>By name, "xxl-pod16" or "xxl_pod16"; throws listing the known names.</summary>
    public static ReferencePreset Find(string name)
    {
        var key = name.Trim().ToLowerInvariant().Replace('_', '-');
        return All.FirstOrDefault(p => p.Name == key)
               ?? throw new ArgumentException($"preset: '{name}' is not a reference preset; expected one of {string.Join(", ", All.Select(p => p.Name))}");
    }

    /// <summary>
    /// The preset this run reproduces — same model geometry, tp, replicas, micro batch, global batch, sequence lengths
    /// and precision — or null.
    /// </summary>
    public static ReferencePreset? Match(T5ModelConfig model, PlacementPlan plan, TrainingShape shape) =>
        All.FirstOrDefault(p =>
            SameGeometry(p.Model, model)
            && p.TensorParallel == plan.TensorParallel && p.Replicas == plan.Replicas && plan.PipelineStages == 1
            && shape.MicroBatch == ReferencePreset.MicroBatch && shape.GlobalBatch == ReferencePreset.GlobalBatch
            && shape.SourceLength == ReferencePreset.SequenceLength && shape.TargetLength == ReferencePreset.SequenceLength
            && shape.Precision == ReferencePreset.Precision);

    /// <summary>The efficiency factor fitted on the presets with a published time (see <see cref="CostModel"/>).</summary>
    public static double CalibrateComputeEfficiency() => CostModel.Calibrate(
        All.Where(p => p.PublishedStepSeconds is not null)
            .Select(p => (p.Model, p.Plan, p.Shape, p.Target, p.PublishedStepSeconds!.Value)));

    private static bool SameGeometry(T5ModelConfig a, T5ModelConfig b) =>
        a.VocabSize == b.VocabSize && a.DModel == b.DModel && a.DKv == b.DKv && a.DFf == b.DFf && a.NumHeads == b.NumHeads
        && a.NumLayers == b.NumLayers && a.NumDecoderLayers == b.NumDecoderLayers && a.FeedForward == b.FeedForward;
}
