namespace FlanT5.Poplar.Configuration;

/// <summary>Numeric format of weights and activations on the device.</summary>
public enum Precision { Fp32, Fp16 }

/// <summary>Learning-rate shape after the warmup.</summary>
public enum LearningRateScheduleKind
{
    /// <summary>The reference: linear warmup from <c>warmup_start</c> to the maximum, then constant.</summary>
    ConstantAfterWarmup,
    /// <summary>Linear warmup, then linear decay to 0 at the last step.</summary>
    Linear,
    /// <summary>Linear warmup, then half a cosine down to 0 at the last step.</summary>
    Cosine,
}

/// <summary>The optimizer family (the reference uses AdamW only).</summary>
public enum OptimizerKind { AdamW }

/// <summary>How the loss scale evolves.</summary>
public enum LossScalingMode { Static, Dynamic }

/// <summary>On-disk layout of the MNLI data.</summary>
public enum DataFormat { Auto, Glue, MultiNli, Parquet }

/// <summary>The model to fine-tune: a Hugging Face checkpoint directory and/or a named Flan-T5 geometry.</summary>
public sealed record ModelSection
{
    /// <summary>Directory with config.json, safetensors and tokenizer files (null: only <see cref="Architecture"/>).</summary>
    public string? Checkpoint { get; init; } = "samples/models/flan-t5-tiny";
    /// <summary>flan-t5-small|base|large|xl|xxl: the geometry used when no checkpoint is at hand (planning).</summary>
    public string? Architecture { get; init; }
    /// <summary>Encoder sequence length (tokens, eos included).</summary>
    public int SourceLength { get; init; } = 64;
    /// <summary>Decoder sequence length (label tokens and eos).</summary>
    public int TargetLength { get; init; } = 8;
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>fp16 mitigations of the forward pass and decoding (evaluation, generation); training runs without them.</summary>
    public HalfMitigationsSection Fp16 { get; init; } = new();
}

/// <summary>
/// The changes Hugging Face and optimum-graphcore made to run a bfloat16-trained T5 in fp16, each a switch (model.fp16).
/// They apply to the weights-only sessions that evaluate and generate; a training session runs as the reference
/// fine-tune did, without them. configs/fp16-safe.yaml turns on the set the measurements support.
/// </summary>
public sealed record HalfMitigationsSection
{
    /// <summary>The feed-forward's wo multiplies in fp32 (Hugging Face's keep-in-fp32).</summary>
    public bool WoFp32 { get; init; }
    /// <summary>wo multiplies its input / 8 in fp16 and its fp32 output × 8 (optimum-graphcore).</summary>
    public bool WoScaled { get; init; }
    /// <summary>The residual stream in fp32; each layer norm gives fp16.</summary>
    public bool ResidualFp32 { get; init; }
    /// <summary>Each residual add clamps to ±(65504 − 1000).</summary>
    public bool Clamp { get; init; }
    /// <summary>The attention masks' minimum × 0.75, so mask + position bias stays finite.</summary>
    public bool MaskScaled { get; init; }
    /// <summary>gelu only on −39 &lt; x &lt; 39, relu outside.</summary>
    public bool GeluLimited { get; init; }

    public Interop.HalfMitigations Flags =>
        (WoFp32 ? Interop.HalfMitigations.WoFp32 : 0) | (WoScaled ? Interop.HalfMitigations.WoScaled : 0) |
        (ResidualFp32 ? Interop.HalfMitigations.ResidualFp32 : 0) | (Clamp ? Interop.HalfMitigations.Clamp : 0) |
        (MaskScaled ? Interop.HalfMitigations.MaskScaled : 0) | (GeluLimited ? Interop.HalfMitigations.GeluLimited : 0);

    /// <summary>The set the measurements support (configs/fp16-safe.yaml): wo and the residual stream in fp32, which
    /// keep flan-t5-tiny-overflow (feed-forward output 166,416) within fp16's logits bound of float64 (every other
    /// switch alone leaves it overflowing), and the scaled mask, which keeps a position bias of −40 from taking the
    /// masked scores past −65504; none changes a model that fits.</summary>
    public static HalfMitigationsSection Safe { get; } = new() { WoFp32 = true, ResidualFp32 = true, MaskScaled = true };

    /// <summary>Parses "none", "safe", or switches by config name ("wo_fp32,residual_fp32"); <paramref name="what"/>
    /// names the option in errors.</summary>
    public static HalfMitigationsSection Parse(string text, string what)
    {
        var result = new HalfMitigationsSection();
        foreach (var raw in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            result = raw switch
            {
                "none" => result,
                "safe" => Safe with { },
                "wo_fp32" => result with { WoFp32 = true },
                "wo_scaled" => result with { WoScaled = true },
                "residual_fp32" => result with { ResidualFp32 = true },
                "clamp" => result with { Clamp = true },
                "mask_scaled" => result with { MaskScaled = true },
                "gelu_limited" => result with { GeluLimited = true },
                _ => throw new ArgumentException(
                    $"{what}: '{raw}' is not an fp16 mitigation; expected none, safe, or a comma list of wo_fp32, " +
                    "wo_scaled, residual_fp32, clamp, mask_scaled, gelu_limited"),
            };
        }
        return result;
    }

    /// <summary>The switches that are on, by their config names ("wo_fp32, residual_fp32"), or "none".</summary>
    public string Describe()
    {
        var on = new List<string>();
        if (WoFp32) on.Add("wo_fp32");
        if (WoScaled) on.Add("wo_scaled");
        if (ResidualFp32) on.Add("residual_fp32");
        if (Clamp) on.Add("clamp");
        if (MaskScaled) on.Add("mask_scaled");
        if (GeluLimited) on.Add("gelu_limited");
        return on.Count == 0 ? "none" : string.Join(", ", on);
    }
}

public sealed record LearningRateSection
{
    public double Maximum { get; init; } = 1e-3;
    public int WarmupSteps { get; init; }
    /// <summary>Learning rate of step 0 when warming up (the reference: 1e-7).</summary>
    public double WarmupStart { get; init; } = 1e-7;
    public LearningRateScheduleKind Schedule { get; init; } = LearningRateScheduleKind.ConstantAfterWarmup;
}

public sealed record OptimizerSection
{
    public OptimizerKind Name { get; init; } = OptimizerKind.AdamW;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Adam epsilon (the reference run: 1e-6; torch's default, used by the tiny reference run: 1e-8).</summary>
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; }
    /// <summary>No weight decay for parameters whose name contains "norm" or "bias" (the reference rule).</summary>
    public bool ExcludeNormAndBiasFromDecay { get; init; } = true;
}

public sealed record TrainingSection
{
    /// <summary>Optimizer updates.</summary>
    public int Steps { get; init; } = 400;
    /// <summary>Samples per optimizer update, over all replicas and micro-batches.</summary>
    public int GlobalBatchSize { get; init; } = 32;
    public LearningRateSection LearningRate { get; init; } = new();
    public OptimizerSection Optimizer { get; init; } = new();
    /// <summary>Global-norm clipping threshold; 0 turns clipping off.</summary>
    public double GradientClipping { get; init; }
    /// <summary>Seed for weight-independent randomness (dropout masks, stochastic rounding).</summary>
    public int Seed { get; init; } = 7;
    /// <summary>Dropout probability during training; null keeps the checkpoint's dropout_rate.</summary>
    public double? Dropout { get; init; } = 0.0;
    /// <summary>Stochastic rounding of fp16 weight updates (the reference enables it with fp16).</summary>
    public bool StochasticRounding { get; init; }
    /// <summary>fp16: an fp32 master copy of the weights that AdamW updates and rounds to nearest into them (not with
    /// stochastic rounding; the reference keeps none).</summary>
    public bool MasterWeights { get; init; }
}

public sealed record LossScalingSection
{
    public LossScalingMode Mode { get; init; } = LossScalingMode.Static;
    /// <summary>The static scale, or the starting scale in dynamic mode.</summary>
    public double Initial { get; init; } = 1.0;
    /// <summary>Dynamic mode: multiply by this after <see cref="GrowthInterval"/> finite steps in a row.</summary>
    public double GrowthFactor { get; init; } = 2.0;
    /// <summary>Dynamic mode: multiply by this on a non-finite gradient.</summary>
    public double BackoffFactor { get; init; } = 0.5;
    public int GrowthInterval { get; init; } = 1000;
    public double Minimum { get; init; } = 1.0;
    public double Maximum { get; init; } = 16_777_216.0; // 2^24: beyond it fp16 gradients overflow anyway
}

public sealed record ExecutionSection
{
    public int MicroBatchSize { get; init; } = 32;
    public int TensorParallel { get; init; } = 1;
    public int PipelineStages { get; init; } = 1;
    public int DataParallel { get; init; } = 1;
    /// <summary>
    /// Host processes the run is launched as (mpirun -np N, poprun --num-instances N); the data-parallel replicas
    /// divide evenly among them. The launch must agree (<see cref="Placement.InstanceLayout"/>).
    /// </summary>
    public int Instances { get; init; } = 1;
    /// <summary>How a step's micro-batches go through the pipeline stages (pipeline_stages > 1, weights on chip).</summary>
    public Placement.PipelineSchedule PipelineSchedule { get; init; } = Placement.PipelineSchedule.GPipe;
    /// <summary>Recompute each layer's activations in the backward pass instead of keeping them.</summary>
    public bool Recompute { get; init; }
    /// <summary>Where weights and gradients live; streaming = phased execution, one layer on chip at a time.</summary>
    public Placement.TensorLocation WeightsLocation { get; init; } = Placement.TensorLocation.OnChip;
    /// <summary>Where AdamW's moments live.</summary>
    public Placement.TensorLocation OptimizerLocation { get; init; } = Placement.TensorLocation.OnChip;
    /// <summary>Optimizer steps run per host call.</summary>
    public int DeviceIterations { get; init; } = 1;
    public LossScalingSection LossScaling { get; init; } = new();
    /// <summary>Which device backend runs the model; the loaded libft5 must be built against its SDK.</summary>
    public Interop.IpuBackend Backend { get; init; } = Interop.IpuBackend.Emulator;
    /// <summary>Host threads for the emulator; 0 = all cores.</summary>
    public int Threads { get; init; }
    /// <summary>Every program stops at the first op that overflows (or gives NaN) and the run ends with exit code 3,
    /// naming it (--detect-overflow).</summary>
    public bool DetectOverflow { get; init; }
}

/// <summary>Evaluation splits; a null path skips that split.</summary>
public sealed record EvalPathsSection
{
    public string? ValidationMatched { get; init; } = "samples/data/synthetic-mnli/glue/dev_matched.tsv";
    public string? ValidationMismatched { get; init; } = "samples/data/synthetic-mnli/glue/dev_mismatched.tsv";
}

public sealed record DataSection
{
    public DataFormat Format { get; init; } = DataFormat.Glue;
    public string? Train { get; init; } = "samples/data/synthetic-mnli/glue/train.tsv";
    public EvalPathsSection Eval { get; init; } = new();
    public string PromptTemplate { get; init; } = DefaultPromptTemplate;
    public int ShuffleSeed { get; init; } = 7;
    public bool DropLast { get; init; } = true;
    /// <summary>Skip malformed rows (counted and reported) instead of failing on the first.</summary>
    public bool SkipBadRows { get; init; }
    /// <summary>
    /// What a batch pads to. buckets: the smallest power of two (or the model's length) that holds its longest row, one
    /// compiled program per bucket the run meets, all compiled before the first step; fixed: the model's source and
    /// target lengths (one program, as the reference run's 512); longest: the longest row (the device still runs it on
    /// its power-of-two bucket, compiled when first met).
    /// </summary>
    public Tokenization.PaddingMode Padding { get; init; } = Tokenization.PaddingMode.Bucketed;
    /// <summary>
    /// 0: batches take the shuffled order as it is; N: every N global batches of it are sorted by source length and
    /// cut again, so a batch's rows have similar lengths and pad to a smaller bucket (the batch order is reshuffled).
    /// </summary>
    public int LengthBucketWindow { get; init; }

    /// <summary>The reference encoder text.</summary>
    public const string DefaultPromptTemplate = "mnli hypothesis: {hypothesis} premise: {premise}";
}

public sealed record CheckpointSection
{
    /// <summary>Where training checkpoints go; null: <c>{output.run_dir}/checkpoints</c>.</summary>
    public string? Dir { get; init; }
    /// <summary>Save every N steps; 0 = only after the last step.</summary>
    public int Every { get; init; }
    /// <summary>Keep the newest K checkpoints; 0 keeps all.</summary>
    public int Keep { get; init; } = 4;
    /// <summary>Resume from this training checkpoint.</summary>
    public string? Load { get; init; }
    public bool SaveOptimizerState { get; init; } = true;
}

public sealed record InferenceSection
{
    public int MaxNewTokens { get; init; } = 5;
    public int BatchSize { get; init; } = 64;
    public int NumBeams { get; init; } = 1;
}

public sealed record OutputSection
{
    /// <summary>Replaced in <see cref="RunDir"/> by the run's start time (UTC, <c>yyyyMMdd-HHmmss</c>) when it starts.</summary>
    public const string TimestampToken = "{timestamp}";

    /// <summary>Where a run writes everything; with <see cref="TimestampToken"/> in its last folder name, a new folder per run.</summary>
    public string RunDir { get; init; } = "runs/tiny-emulator/" + TimestampToken;
}
