using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Cli.Reporting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Reporting;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 finetune</c>: the main job. With no arguments it fine-tunes the bundled tiny Flan-T5 on the bundled
/// synthetic MNLI on the emulator (configs/tiny-emulator.yaml), evaluates both validation splits by generation,
/// exports a Hugging Face checkpoint and writes metrics, a loss plot and summary.json into the run directory.
/// </summary>
internal static class FinetuneCommand
{
    internal static Command Create()
    {
        var options = new RunConfigOptions();
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the evaluation of the validation splits after training" };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue from the latest training checkpoint in the run's checkpoint directory (if any)",
        };
        var command = new Command("finetune",
            "Fine-tune Flan-T5 on MNLI as text-to-text, evaluate by generation, export a Hugging Face checkpoint. " +
            "With no options: the bundled tiny model and synthetic data on the IPU emulator (configs/tiny-emulator.yaml).");
        options.AddTo(command);
        command.Options.Add(noEval);
        command.Options.Add(resume);
        command.SetAction(async (parse, cancellation) =>
        {
            var loaded = options.Load(parse);
            RunConfigLoader.ThrowIfAny(loaded, RunConfigPathChecker.Check(loaded.Config));
            RunConfigOptions.ThrowUnlessRunnable(loaded, loaded.Config);
            return await RunAsync(loaded, !parse.GetValue(noEval), parse.GetValue(resume),
                parse.InvocationConfiguration.Output, cancellation);
        });
        return command;
    }

    internal static async Task<int> RunAsync(LoadedRunConfig loaded, bool evaluate, bool resume, TextWriter output,
        CancellationToken cancellation)
    {
        var config = loaded.Config;
        var paths = new RunOutputPaths(config.Output.RunDir);
        Directory.CreateDirectory(paths.RunDir);
        File.WriteAllText(paths.ResolvedConfig, RunConfigWriter.ToYaml(config, includeDerived: false));

        output.WriteLine($"flant5 finetune: {loaded.Source}");
        using var inputs = RunInputs.Load(config);
        foreach (var note in inputs.Notes) output.WriteLine($"  data: {note}");
        output.WriteLine($"  model: {config.Model.Checkpoint} ({inputs.Pretrained.Config.ParameterCount():N0} parameters, " +
                         $"{inputs.Pretrained.Layout.ToString().ToLowerInvariant()} embeddings)");
        output.WriteLine($"  {config.Training.Steps} steps × {config.Training.GlobalBatchSize} samples " +
                         $"(micro-batch {config.Execution.MicroBatchSize} × accumulation {config.GradientAccumulation}), " +
                         $"{config.Ipus} IPU(s) on the {config.Execution.Backend.ToString().ToLowerInvariant()}");

        using var trainer = new T5Trainer(config, inputs.Pretrained, inputs.Train, null, config.Inference, inputs.Tokenizer,
            LabelSet.Mnli);
        bool resumed = false;
        if (config.Checkpoint.Load is { } load)
        {
            using var checkpoint = TrainingCheckpoint.Open(load);
            trainer.Resume(checkpoint);
            resumed = true;
        }
        else if (resume && trainer.Checkpoints.LoadLatest() is { } latest)
        {
            using (latest) trainer.Resume(latest);
            resumed = true;
        }
        if (resumed) output.WriteLine($"  resumed at step {trainer.Step}");
        else if (trainer.Checkpoints.List() is { Count: > 0 } earlier)
        {
            output.WriteLine($"  note: {config.CheckpointDirectory} already holds {earlier.Count} checkpoint(s) of an earlier run " +
                             $"(up to step {earlier.Max(c => c.Step)}); this run starts from the pretrained weights, and " +
                             "--resume would continue from the latest of all of them");
        }

        TrainingOutcome outcome;
        using (var metrics = new MetricsWriter(paths, append: resumed))
        {
            var display = TrainingProgressDisplay.ForConsole(output);
            outcome = await display.RunAsync("fine-tuning", config.Training.Steps,
                observer => trainer.TrainAsync(new ObserverPair(metrics, observer), cancellation));
        }
        if (outcome.SkippedSteps > 0)
            output.WriteLine($"  {outcome.SkippedSteps} step(s) skipped for non-finite loss or gradients (see metrics.jsonl)");
        if (outcome.LastCheckpoint is not null) output.WriteLine($"  training checkpoint: {outcome.LastCheckpoint}");

        var outputs = new Dictionary<string, string>
        {
            ["config"] = paths.ResolvedConfig,
            ["metrics_jsonl"] = paths.MetricsJsonl,
            ["metrics_csv"] = paths.MetricsCsv,
        };
        if (outcome.LastCheckpoint is not null) outputs["training_checkpoint"] = outcome.LastCheckpoint;

        var stepMetrics = MetricsWriter.ReadJsonl(paths.MetricsJsonl, config.Training.Steps);
        if (stepMetrics.Count > 0)
        {
            LossCurvePlot.Save(stepMetrics, paths.LossPlot, $"Fine-tuning loss ({Path.GetFileName(config.Model.Checkpoint)})");
            outputs["loss_plot"] = paths.LossPlot;
        }

        var accuracy = new Dictionary<string, SplitAccuracy>(StringComparer.Ordinal);
        if (outcome.Interrupted)
        {
            output.WriteLine($"interrupted at step {outcome.StepsCompleted}: resume with `flant5 finetune --resume` " +
                             "(same config)");
        }
        else
        {
            if (evaluate)
            {
                foreach (var (split, examples) in inputs.Eval)
                {
                    var result = trainer.Evaluate(split, examples);
                    var path = paths.Evaluation(split);
                    File.WriteAllText(path, result.ToJson());
                    outputs[$"eval_{split}"] = path;
                    accuracy[split] = SplitAccuracy.From(result);
                    output.WriteLine(result.ToText());
                }
            }
            var hfDir = Path.Combine(paths.RunDir, "hf-checkpoint");
            trainer.SaveHfCheckpoint(hfDir);
            outputs["hf_checkpoint"] = hfDir;
        }

        var summary = new RunSummary
        {
            RunDir = Path.GetFullPath(paths.RunDir),
            ConfigSource = loaded.Source,
            StepsCompleted = outcome.StepsCompleted,
            StepsPlanned = outcome.StepsPlanned,
            SkippedSteps = outcome.SkippedSteps,
            Samples = outcome.Samples,
            TrainSeconds = outcome.TrainSeconds,
            SamplesPerSecond = outcome.SamplesPerSecond,
            FinalLoss = outcome.FinalLoss,
            Interrupted = outcome.Interrupted,
            Accuracy = accuracy,
            Outputs = outputs,
        };
        summary.Write(paths.Summary);

        output.WriteLine();
        output.WriteLine($"steps {outcome.StepsCompleted}/{outcome.StepsPlanned}, final loss {outcome.FinalLoss:F4}, " +
                         $"{outcome.SamplesPerSecond:F1} samples/s over {outcome.TrainSeconds:F1} s");
        foreach (var (split, a) in accuracy)
            output.WriteLine($"accuracy {split}: {a.Accuracy:P1} ({a.Correct}/{a.Total}, {a.Unknown} unknown)");
        output.WriteLine($"outputs in {summary.RunDir}:");
        foreach (var (name, path) in outputs) output.WriteLine($"  {name,-20} {path}");
        output.WriteLine($"  {"summary",-20} {paths.Summary}");
        return outcome.Interrupted ? ExitCodes.Cancelled : ExitCodes.Success;
    }

    private sealed class ObserverPair(IStepObserver first, IStepObserver second) : IStepObserver
    {
        public void OnStep(StepMetrics metrics)
        {
            first.OnStep(metrics);
            second.OnStep(metrics);
        }
    }
}
