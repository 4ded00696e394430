using System.Text.RegularExpressions;

namespace FlanT5.Poplar.Configuration;

/// <summary>One inconsistency: the key it is reported against (dotted), other keys involved, and what is wrong.</summary>
public sealed record ConfigProblem(string Key, string Message, IReadOnlyList<string> RelatedKeys)
{
    public ConfigProblem(string key, string message) : this(key, message, []) { }
}

/// <summary>Checks a <see cref="RunConfig"/> for values that are out of range or contradict each other.</summary>
public static partial class RunConfigValidator
{
    /// <summary>Flan-T5 geometries accepted by <c>model.architecture</c>.</summary>
    public static IReadOnlyList<string> Architectures { get; } =
        ["flan-t5-small", "flan-t5-base", "flan-t5-large", "flan-t5-xl", "flan-t5-xxl"];

    public static IReadOnlyList<ConfigProblem> Validate(RunConfig config)
    {
        var problems = new List<ConfigProblem>();
        void Check(bool ok, string key, string message, params string[] related)
        {
            if (!ok) problems.Add(new ConfigProblem(key, message, related));
        }
        void AtLeast(int value, int minimum, string key) =>
            Check(value >= minimum, key, $"is {value}; expected >= {minimum}");

        var model = config.Model;
        Check(model.Checkpoint is not null || model.Architecture is not null, "model.checkpoint",
            "is null and so is model.architecture; give a checkpoint directory or a Flan-T5 architecture name", "model.architecture");
        Check(model.Architecture is null || Architectures.Contains(model.Architecture), "model.architecture",
            $"is '{model.Architecture}'; expected one of {string.Join(", ", Architectures)}");
        AtLeast(model.SourceLength, 1, "model.source_length");
        AtLeast(model.TargetLength, 2, "model.target_length"); // a label token and eos

        var training = config.Training;
        AtLeast(training.Steps, 1, "training.steps");
        AtLeast(training.GlobalBatchSize, 1, "training.global_batch_size");
        var lr = training.LearningRate;
        Check(lr.Maximum > 0, "training.learning_rate.maximum", $"is {lr.Maximum}; expected > 0");
        AtLeast(lr.WarmupSteps, 0, "training.learning_rate.warmup_steps");
        Check(training.Steps < 1 || lr.WarmupSteps <= training.Steps, "training.learning_rate.warmup_steps",
            $"is {lr.WarmupSteps}, more than training.steps ({training.Steps})", "training.steps");
        Check(lr.WarmupStart >= 0 && lr.WarmupStart <= lr.Maximum, "training.learning_rate.warmup_start",
            $"is {lr.WarmupStart}; expected 0 <= warmup_start <= maximum ({lr.Maximum})", "training.learning_rate.maximum");
        var adam = training.Optimizer;
        Check(adam.Beta1 is >= 0 and < 1, "training.optimizer.beta1", $"is {adam.Beta1}; expected 0 <= beta1 < 1");
        Check(adam.Beta2 is >= 0 and < 1, "training.optimizer.beta2", $"is {adam.Beta2}; expected 0 <= beta2 < 1");
        Check(adam.Eps > 0, "training.optimizer.eps", $"is {adam.Eps}; expected > 0");
        Check(adam.WeightDecay >= 0, "training.optimizer.weight_decay", $"is {adam.WeightDecay}; expected >= 0");
        Check(training.GradientClipping >= 0, "training.gradient_clipping",
            $"is {training.GradientClipping}; expected >= 0 (0 turns clipping off)");
        Check(training.Dropout is null or (>= 0 and < 1), "training.dropout", $"is {training.Dropout}; expected 0 <= p < 1 or null");

        var execution = config.Execution;
        AtLeast(execution.MicroBatchSize, 1, "execution.micro_batch_size");
        AtLeast(execution.TensorParallel, 1, "execution.tensor_parallel");
        AtLeast(execution.PipelineStages, 1, "execution.pipeline_stages");
        AtLeast(execution.DataParallel, 1, "execution.data_parallel");
        AtLeast(execution.Instances, 1, "execution.instances");
        AtLeast(execution.DeviceIterations, 1, "execution.device_iterations");
        Check(execution.Instances < 1 || execution.DataParallel < 1 || execution.DataParallel % execution.Instances == 0,
            "execution.instances",
            $"is {execution.Instances}, not a divisor of execution.data_parallel {execution.DataParallel}: every instance drives " +
            "the same number of whole replicas", "execution.data_parallel");
        AtLeast(execution.Threads, 0, "execution.threads");
        if (execution.MicroBatchSize >= 1 && execution.DataParallel >= 1 && training.GlobalBatchSize >= 1)
        {
            var perAccumulationStep = execution.DataParallel * execution.MicroBatchSize;
            Check(training.GlobalBatchSize % perAccumulationStep == 0, "training.global_batch_size",
                $"is {training.GlobalBatchSize}, not a multiple of execution.data_parallel × execution.micro_batch_size " +
                $"= {execution.DataParallel} × {execution.MicroBatchSize} = {perAccumulationStep}; gradient accumulation must be a whole number",
                "execution.data_parallel", "execution.micro_batch_size");
        }
        // The placement against the model's geometry: Placement.RunConfigPlacementCheck (it may read config.json).
        var scaling = execution.LossScaling;
        Check(scaling.Initial > 0, "execution.loss_scaling.initial", $"is {scaling.Initial}; expected > 0");
        if (scaling.Mode == LossScalingMode.Dynamic)
        {
            Check(scaling.GrowthFactor > 1, "execution.loss_scaling.growth_factor", $"is {scaling.GrowthFactor}; expected > 1");
            Check(scaling.BackoffFactor is > 0 and < 1, "execution.loss_scaling.backoff_factor",
                $"is {scaling.BackoffFactor}; expected 0 < backoff < 1");
            AtLeast(scaling.GrowthInterval, 1, "execution.loss_scaling.growth_interval");
            Check(scaling.Minimum > 0 && scaling.Minimum <= scaling.Initial && scaling.Initial <= scaling.Maximum,
                "execution.loss_scaling.initial",
                $"is {scaling.Initial}; expected minimum ({scaling.Minimum}) <= initial <= maximum ({scaling.Maximum}), minimum > 0",
                "execution.loss_scaling.minimum", "execution.loss_scaling.maximum");
        }

        var data = config.Data;
        Check(data.Train is not null || data.Eval.ValidationMatched is not null || data.Eval.ValidationMismatched is not null,
            "data.train", "is null and so are both eval paths; nothing to read");
        foreach (var placeholder in PlaceholderPattern().Matches(data.PromptTemplate).Select(m => m.Groups[1].Value))
        {
            Check(placeholder is "premise" or "hypothesis", "data.prompt_template",
                $"uses {{{placeholder}}}; only {{premise}} and {{hypothesis}} are filled in");
        }
        Check(data.PromptTemplate.Contains("{premise}") && data.PromptTemplate.Contains("{hypothesis}"), "data.prompt_template",
            $"is \"{data.PromptTemplate}\"; it must contain {{premise}} and {{hypothesis}}");

        AtLeast(data.LengthBucketWindow, 0, "data.length_bucket_window");

        var checkpoint = config.Checkpoint;
        AtLeast(checkpoint.Every, 0, "checkpoint.every");
        AtLeast(checkpoint.Keep, 0, "checkpoint.keep");

        var inference = config.Inference;
        AtLeast(inference.MaxNewTokens, 1, "inference.max_new_tokens");
        AtLeast(inference.BatchSize, 1, "inference.batch_size");
        AtLeast(inference.NumBeams, 1, "inference.num_beams");

        Check(inference.MaxNewTokens <= Generation.GenerationOptions.MaxNewTokensLimit, "inference.max_new_tokens",
            $"is {inference.MaxNewTokens}; at most {Generation.GenerationOptions.MaxNewTokensLimit}");

        Check(config.Output.RunDir.Length > 0, "output.run_dir", "is empty");
        Check(Path.GetDirectoryName(config.Output.RunDir)?.Contains(OutputSection.TimestampToken, StringComparison.Ordinal) != true,
            "output.run_dir", $"has {OutputSection.TimestampToken} above its last folder name; it may only name the run's own folder");
        Check(checkpoint.Dir?.Contains(OutputSection.TimestampToken, StringComparison.Ordinal) != true, "checkpoint.dir",
            $"may not hold {OutputSection.TimestampToken} (leave it null: the run directory's checkpoints/ folder is per run)");
        return problems;
    }

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex PlaceholderPattern();
}
