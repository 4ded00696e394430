using System.Text.Json.Nodes;
using K = FlanT5.Poplar.Configuration.ConfigKinds;

namespace FlanT5.Poplar.Configuration;

/// <summary>The snake_case keys of a run config, section by section; one line per key, read and written alike.</summary>
public static class RunConfigSchema
{
    private static readonly ConfigValueKind<Precision> PrecisionKind =
        K.Enum(("fp32", Precision.Fp32), ("fp16", Precision.Fp16), ("float32", Precision.Fp32), ("float16", Precision.Fp16));

    private static readonly ConfigValueKind<Interop.IpuBackend> BackendKindValues =
        K.Enum(("emulator", Interop.IpuBackend.Emulator), ("poplar", Interop.IpuBackend.Poplar),
            ("ipu-model", Interop.IpuBackend.IpuModel));

    private static readonly ConfigValueKind<Placement.PipelineSchedule> PipelineScheduleKind =
        K.Enum(("gpipe", Placement.PipelineSchedule.GPipe), ("1f1b", Placement.PipelineSchedule.OneFOneB));

    private static readonly ConfigValueKind<Placement.TensorLocation> LocationKind =
        K.Enum(("on-chip", Placement.TensorLocation.OnChip), ("streaming", Placement.TensorLocation.Streaming));

    private static readonly ConfigValueKind<LearningRateScheduleKind> ScheduleKind = K.Enum(
        ("constant-after-warmup", LearningRateScheduleKind.ConstantAfterWarmup),
        ("linear", LearningRateScheduleKind.Linear),
        ("cosine", LearningRateScheduleKind.Cosine));

    private static readonly ConfigValueKind<Tokenization.PaddingMode> PaddingKind = K.Enum(
        ("buckets", Tokenization.PaddingMode.Bucketed), ("fixed", Tokenization.PaddingMode.Fixed),
        ("longest", Tokenization.PaddingMode.Longest));

    private static readonly ConfigValueKind<DataFormat> FormatKind = K.Enum(
        ("auto", DataFormat.Auto), ("glue", DataFormat.Glue), ("multinli", DataFormat.MultiNli), ("parquet", DataFormat.Parquet));

    private static readonly ConfigValueKind<LossScalingMode> LossScalingModeKind =
        K.Enum(("static", LossScalingMode.Static), ("dynamic", LossScalingMode.Dynamic));

    private static ValueField<T, V> F<T, V>(string name, Func<T, V> get, Func<T, V, T> set, ConfigValueKind<V> kind) =>
        new(name, get, set, kind);

    private static SectionField<T, S> S<T, S>(string name, Func<T, S> get, Func<T, S, T> set, ConfigSchema<S> schema) =>
        new(name, get, set, schema);

    public static ConfigSchema<HalfMitigationsSection> HalfMitigations { get; } = new(
        F<HalfMitigationsSection, bool>("wo_fp32", s => s.WoFp32, (s, v) => s with { WoFp32 = v }, K.Bool),
        F<HalfMitigationsSection, bool>("wo_scaled", s => s.WoScaled, (s, v) => s with { WoScaled = v }, K.Bool),
        F<HalfMitigationsSection, bool>("residual_fp32", s => s.ResidualFp32, (s, v) => s with { ResidualFp32 = v }, K.Bool),
        F<HalfMitigationsSection, bool>("clamp", s => s.Clamp, (s, v) => s with { Clamp = v }, K.Bool),
        F<HalfMitigationsSection, bool>("mask_scaled", s => s.MaskScaled, (s, v) => s with { MaskScaled = v }, K.Bool),
        F<HalfMitigationsSection, bool>("gelu_limited", s => s.GeluLimited, (s, v) => s with { GeluLimited = v }, K.Bool));

    public static ConfigSchema<ModelSection> Model { get; } = new(
        F<ModelSection, string?>("checkpoint", s => s.Checkpoint, (s, v) => s with { Checkpoint = v }, K.OptionalFilePath),
        F<ModelSection, string?>("architecture", s => s.Architecture, (s, v) => s with { Architecture = v }, K.OptionalText),
        F<ModelSection, int>("source_length", s => s.SourceLength, (s, v) => s with { SourceLength = v }, K.Int),
        F<ModelSection, int>("target_length", s => s.TargetLength, (s, v) => s with { TargetLength = v }, K.Int),
        F<ModelSection, Precision>("precision", s => s.Precision, (s, v) => s with { Precision = v }, PrecisionKind),
        S<ModelSection, HalfMitigationsSection>("fp16", s => s.Fp16, (s, v) => s with { Fp16 = v }, HalfMitigations));

    public static ConfigSchema<LearningRateSection> LearningRate { get; } = new(
        F<LearningRateSection, double>("maximum", s => s.Maximum, (s, v) => s with { Maximum = v }, K.Number),
        F<LearningRateSection, int>("warmup_steps", s => s.WarmupSteps, (s, v) => s with { WarmupSteps = v }, K.Int),
        F<LearningRateSection, double>("warmup_start", s => s.WarmupStart, (s, v) => s with { WarmupStart = v }, K.Number),
        F<LearningRateSection, LearningRateScheduleKind>("schedule", s => s.Schedule, (s, v) => s with { Schedule = v }, ScheduleKind));

    public static ConfigSchema<OptimizerSection> Optimizer { get; } = new(
        F<OptimizerSection, OptimizerKind>("name", s => s.Name, (s, v) => s with { Name = v }, K.Enum(("adamw", OptimizerKind.AdamW))),
        F<OptimizerSection, double>("beta1", s => s.Beta1, (s, v) => s with { Beta1 = v }, K.Number),
        F<OptimizerSection, double>("beta2", s => s.Beta2, (s, v) => s with { Beta2 = v }, K.Number),
        F<OptimizerSection, double>("eps", s => s.Eps, (s, v) => s with { Eps = v }, K.Number),
        F<OptimizerSection, double>("weight_decay", s => s.WeightDecay, (s, v) => s with { WeightDecay = v }, K.Number),
        F<OptimizerSection, bool>("exclude_norm_and_bias_from_decay", s => s.ExcludeNormAndBiasFromDecay,
            (s, v) => s with { ExcludeNormAndBiasFromDecay = v }, K.Bool));

    public static ConfigSchema<TrainingSection> Training { get; } = new(
        F<TrainingSection, int>("steps", s => s.Steps, (s, v) => s with { Steps = v }, K.Int),
        F<TrainingSection, int>("global_batch_size", s => s.GlobalBatchSize, (s, v) => s with { GlobalBatchSize = v }, K.Int),
        S<TrainingSection, LearningRateSection>("learning_rate", s => s.LearningRate, (s, v) => s with { LearningRate = v }, LearningRate),
        S<TrainingSection, OptimizerSection>("optimizer", s => s.Optimizer, (s, v) => s with { Optimizer = v }, Optimizer),
        F<TrainingSection, double>("gradient_clipping", s => s.GradientClipping, (s, v) => s with { GradientClipping = v }, K.Number),
        F<TrainingSection, int>("seed", s => s.Seed, (s, v) => s with { Seed = v }, K.Int),
        F<TrainingSection, double?>("dropout", s => s.Dropout, (s, v) => s with { Dropout = v }, K.OptionalNumber),
        F<TrainingSection, bool>("stochastic_rounding", s => s.StochasticRounding, (s, v) => s with { StochasticRounding = v }, K.Bool),
        F<TrainingSection, bool>("master_weights", s => s.MasterWeights, (s, v) => s with { MasterWeights = v }, K.Bool));

    public static ConfigSchema<LossScalingSection> LossScaling { get; } = new(
        F<LossScalingSection, LossScalingMode>("mode", s => s.Mode, (s, v) => s with { Mode = v }, LossScalingModeKind),
        F<LossScalingSection, double>("initial", s => s.Initial, (s, v) => s with { Initial = v }, K.Number),
        F<LossScalingSection, double>("growth_factor", s => s.GrowthFactor, (s, v) => s with { GrowthFactor = v }, K.Number),
        F<LossScalingSection, double>("backoff_factor", s => s.BackoffFactor, (s, v) => s with { BackoffFactor = v }, K.Number),
        F<LossScalingSection, int>("growth_interval", s => s.GrowthInterval, (s, v) => s with { GrowthInterval = v }, K.Int),
        F<LossScalingSection, double>("minimum", s => s.Minimum, (s, v) => s with { Minimum = v }, K.Number),
        F<LossScalingSection, double>("maximum", s => s.Maximum, (s, v) => s with { Maximum = v }, K.Number));

    public static ConfigSchema<ExecutionSection> Execution { get; } = new(
        F<ExecutionSection, int>("micro_batch_size", s => s.MicroBatchSize, (s, v) => s with { MicroBatchSize = v }, K.Int),
        F<ExecutionSection, int>("tensor_parallel", s => s.TensorParallel, (s, v) => s with { TensorParallel = v }, K.Int),
        F<ExecutionSection, int>("pipeline_stages", s => s.PipelineStages, (s, v) => s with { PipelineStages = v }, K.Int),
        F<ExecutionSection, int>("data_parallel", s => s.DataParallel, (s, v) => s with { DataParallel = v }, K.Int),
        F<ExecutionSection, int>("instances", s => s.Instances, (s, v) => s with { Instances = v }, K.Int),
        F<ExecutionSection, Placement.PipelineSchedule>("pipeline_schedule", s => s.PipelineSchedule, (s, v) => s with { PipelineSchedule = v }, PipelineScheduleKind),
        F<ExecutionSection, bool>("recompute", s => s.Recompute, (s, v) => s with { Recompute = v }, K.Bool),
        F<ExecutionSection, Placement.TensorLocation>("weights_location", s => s.WeightsLocation, (s, v) => s with { WeightsLocation = v }, LocationKind),
        F<ExecutionSection, Placement.TensorLocation>("optimizer_location", s => s.OptimizerLocation, (s, v) => s with { OptimizerLocation = v }, LocationKind),
        F<ExecutionSection, int>("device_iterations", s => s.DeviceIterations, (s, v) => s with { DeviceIterations = v }, K.Int),
        new LossScalingField(),
        F<ExecutionSection, Interop.IpuBackend>("backend", s => s.Backend, (s, v) => s with { Backend = v }, BackendKindValues),
        F<ExecutionSection, int>("threads", s => s.Threads, (s, v) => s with { Threads = v }, K.Int),
        F<ExecutionSection, bool>("detect_overflow", s => s.DetectOverflow, (s, v) => s with { DetectOverflow = v }, K.Bool));

    public static ConfigSchema<EvalPathsSection> Eval { get; } = new(
        F<EvalPathsSection, string?>("validation_matched", s => s.ValidationMatched, (s, v) => s with { ValidationMatched = v }, K.OptionalFilePath),
        F<EvalPathsSection, string?>("validation_mismatched", s => s.ValidationMismatched, (s, v) => s with { ValidationMismatched = v }, K.OptionalFilePath));

    public static ConfigSchema<DataSection> Data { get; } = new(
        F<DataSection, DataFormat>("format", s => s.Format, (s, v) => s with { Format = v }, FormatKind),
        F<DataSection, string?>("train", s => s.Train, (s, v) => s with { Train = v }, K.OptionalFilePath),
        S<DataSection, EvalPathsSection>("eval", s => s.Eval, (s, v) => s with { Eval = v }, Eval),
        F<DataSection, string>("prompt_template", s => s.PromptTemplate, (s, v) => s with { PromptTemplate = v }, K.Text),
        F<DataSection, int>("shuffle_seed", s => s.ShuffleSeed, (s, v) => s with { ShuffleSeed = v }, K.Int),
        F<DataSection, bool>("drop_last", s => s.DropLast, (s, v) => s with { DropLast = v }, K.Bool),
        F<DataSection, bool>("skip_bad_rows", s => s.SkipBadRows, (s, v) => s with { SkipBadRows = v }, K.Bool),
        F<DataSection, Tokenization.PaddingMode>("padding", s => s.Padding, (s, v) => s with { Padding = v }, PaddingKind),
        F<DataSection, int>("length_bucket_window", s => s.LengthBucketWindow, (s, v) => s with { LengthBucketWindow = v }, K.Int));

    public static ConfigSchema<CheckpointSection> Checkpoint { get; } = new(
        F<CheckpointSection, string?>("dir", s => s.Dir, (s, v) => s with { Dir = v }, K.OptionalOutputPath),
        F<CheckpointSection, int>("every", s => s.Every, (s, v) => s with { Every = v }, K.Int),
        F<CheckpointSection, int>("keep", s => s.Keep, (s, v) => s with { Keep = v }, K.Int),
        F<CheckpointSection, string?>("load", s => s.Load, (s, v) => s with { Load = v }, K.OptionalFilePath),
        F<CheckpointSection, bool>("save_optimizer_state", s => s.SaveOptimizerState, (s, v) => s with { SaveOptimizerState = v }, K.Bool));

    public static ConfigSchema<InferenceSection> Inference { get; } = new(
        F<InferenceSection, int>("max_new_tokens", s => s.MaxNewTokens, (s, v) => s with { MaxNewTokens = v }, K.Int),
        F<InferenceSection, int>("batch_size", s => s.BatchSize, (s, v) => s with { BatchSize = v }, K.Int),
        F<InferenceSection, int>("num_beams", s => s.NumBeams, (s, v) => s with { NumBeams = v }, K.Int));

    public static ConfigSchema<OutputSection> Output { get; } = new(
        F<OutputSection, string>("run_dir", s => s.RunDir, (s, v) => s with { RunDir = v }, K.OutputPath));

    public static ConfigSchema<RunConfig> Root { get; } = new(
        S<RunConfig, ModelSection>("model", c => c.Model, (c, v) => c with { Model = v }, Model),
        S<RunConfig, TrainingSection>("training", c => c.Training, (c, v) => c with { Training = v }, Training),
        S<RunConfig, ExecutionSection>("execution", c => c.Execution, (c, v) => c with { Execution = v }, Execution),
        S<RunConfig, DataSection>("data", c => c.Data, (c, v) => c with { Data = v }, Data),
        S<RunConfig, CheckpointSection>("checkpoint", c => c.Checkpoint, (c, v) => c with { Checkpoint = v }, Checkpoint),
        S<RunConfig, InferenceSection>("inference", c => c.Inference, (c, v) => c with { Inference = v }, Inference),
        S<RunConfig, OutputSection>("output", c => c.Output, (c, v) => c with { Output = v }, Output));

    /// <summary>
    /// <c>execution.loss_scaling</c>: a mapping, or the shorthands the reference allows: a number (static scale)
    /// or the word <c>dynamic</c>.
    /// </summary>
    private sealed class LossScalingField() : ConfigField<ExecutionSection>("loss_scaling")
    {
        public override ExecutionSection Bind(ExecutionSection target, ConfigNode node, string key, ConfigBindContext context)
        {
            if (node is ConfigScalar scalar)
            {
                if (scalar is { Style: ScalarStyle.Plain, Text: "dynamic" })
                {
                    context.Origins[$"{key}.mode"] = scalar.Location;
                    return target with { LossScaling = target.LossScaling with { Mode = LossScalingMode.Dynamic } };
                }
                var value = K.Number.Parse(scalar, context)
                    ?? throw ConfigBindContext.Error(scalar.Location, key,
                        $"expected a static scale (a number), 'dynamic', or a mapping; found {scalar.Display}");
                context.Origins[$"{key}.mode"] = scalar.Location;
                context.Origins[$"{key}.initial"] = scalar.Location;
                return target with
                {
                    LossScaling = target.LossScaling with { Mode = LossScalingMode.Static, Initial = value.Value },
                };
            }
            return target with { LossScaling = LossScaling.Bind(target.LossScaling, node, key, context) };
        }

        public override JsonNode? Write(ExecutionSection source) => LossScaling.Write(source.LossScaling);
    }
}
