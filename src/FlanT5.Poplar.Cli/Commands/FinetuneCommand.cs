using System.CommandLine;
using System.Text;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Cli.Reporting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Files;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Placement;
using FlanT5.Poplar.Reporting;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 finetune</c>: the main job. With no arguments it fine-tunes the bundled tiny Flan-T5 on the bundled
/// synthetic MNLI on the emulator (configs/tiny-emulator.yaml), evaluates both validation splits by generation,
/// exports a Hugging Face checkpoint and writes metrics, a loss plot and summary.json into a new run directory
/// (<see cref="RunDirectory"/>: an existing run is continued with --resume or replaced with --overwrite, never mixed).
/// </summary>
internal static class FinetuneCommand
{
    internal static Command Create(Func<string, string?> environment, ShutdownSignal? shutdown = null)
    {
        var options = new RunConfigOptions();
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the evaluation of the validation splits after training" };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the run in output.run_dir (with {timestamp} in it: the newest such run) from its latest training checkpoint",
        };
        var forceResume = new Option<bool>("--force-resume")
        {
            Description = "With --resume: continue even though the checkpoint's config differs from this one (the differences are listed)",
        };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Start a new run in output.run_dir even though it holds an earlier run, whose outputs are removed",
        };
        var instanceTimeout = InstanceRun.TimeoutOption("at the end of training and of each split's evaluation");
        var command = new Command("finetune",
            "Fine-tune Flan-T5 on MNLI as text-to-text, evaluate by generation, export a Hugging Face checkpoint. " +
            "With no options: the bundled tiny model and synthetic data on the IPU emulator (configs/tiny-emulator.yaml).");
        options.AddWithPrecisionTo(command);
        command.Options.Add(noEval);
        command.Options.Add(resume);
        command.Options.Add(forceResume);
        command.Options.Add(overwrite);
        command.Options.Add(instanceTimeout);
        command.SetAction(async (parse, cancellation) =>
        {
            var loaded = options.Load(parse);
            RunConfigLoader.ThrowIfAny(loaded, RunConfigPathChecker.Check(loaded.Config));
            var layout = RunConfigOptions.ThrowUnlessRunnable(loaded, loaded.Config, environment, "finetune", runsAcrossInstances: true);
            if (parse.GetValue(resume) && parse.GetValue(overwrite))
                throw new ArgumentException("--resume continues the run in output.run_dir and --overwrite replaces it: give one of them");
            if (parse.GetValue(forceResume) && !parse.GetValue(resume) && loaded.Config.Checkpoint.Load is null)
                throw new ArgumentException("--force-resume goes with --resume (or checkpoint.load)");
            var start = parse.GetValue(resume) ? RunStart.Resume : parse.GetValue(overwrite) ? RunStart.Overwrite : RunStart.Fresh;
            InstanceRun.CheckTimeout(parse.GetValue(instanceTimeout));
            if (!layout.IsMultiInstance)
            {
                return await RunAsync(loaded, !parse.GetValue(noEval), start, parse.GetValue(forceResume),
                    parse.InvocationConfiguration.Output, shutdown, cancellation);
            }
            using var instances = InstanceRun.Join(layout, parse.GetValue(instanceTimeout));
            return await InstanceRun.RunOrAbortAsync(instances, parse, () => RunAsync(loaded, !parse.GetValue(noEval), start,
                parse.GetValue(forceResume), parse.InvocationConfiguration.Output, shutdown, cancellation, layout, instances));
        });
        return command;
    }

    /// <summary>
    /// The job. Across several host instances (<paramref name="launch"/>, <paramref name="instances"/>) every instance
    /// trains its own data-parallel replicas on its rows of each batch and generates its share of each split; instance 0
    /// alone prints and writes (the run directory, metrics, checkpoints, evaluation, export, summary): every replica
    /// holds the whole training state, so one writer has all of it and nothing needs merging.
    /// </summary>
    internal static async Task<int> RunAsync(LoadedRunConfig loaded, bool evaluate, RunStart start, bool forceResume,
        TextWriter output, ShutdownSignal? shutdown, CancellationToken cancellation, InstanceLayout? launch = null,
        IInstanceGroup? instances = null)
    {
        instances ??= new OneInstance();
        bool writes = instances.Index == 0;
        if (!writes) output = TextWriter.Null;
        using var runDirectory = writes ? RunDirectory.Open(loaded.Config, start, DateTime.UtcNow) : null;
        // The other instances take instance 0's run directory (its {timestamp} resolved there).
        var config = ShareRunDirectory(runDirectory?.Config ?? loaded.Config, instances);
        var paths = new RunOutputPaths(config.Output.RunDir);
        output.WriteLine($"flant5 finetune: {loaded.Source}");
        output.WriteLine($"  run directory: {paths.RunDir}");
        if (runDirectory?.Note is { } note) output.WriteLine($"  note: {note}");
        if (launch is { IsMultiInstance: true }) output.WriteLine($"  launch: {launch.Describe()} (instance 0 writes every output)");

        // Instance 0 finds and checks the checkpoint to continue from; every instance loads it into its own replicas.
        var found = writes ? CheckpointToResume(config, start, paths, forceResume, output) : null;
        var sharedCheckpoint = ShareCheckpoint(found?.Directory, instances);
        using var checkpoint = found ?? (sharedCheckpoint is null ? null : TrainingCheckpoint.Open(sharedCheckpoint));
        using var inputs = RunInputs.Load(config);
        foreach (var line in inputs.Notes) output.WriteLine($"  data: {line}");
        output.WriteLine($"  model: {config.Model.Checkpoint} ({inputs.Pretrained.Config.ParameterCount():N0} parameters, " +
                         $"{inputs.Pretrained.Layout.ToString().ToLowerInvariant()} embeddings)");
        output.WriteLine($"  {config.Training.Steps} steps × {config.Training.GlobalBatchSize} samples " +
                         $"(micro-batch {config.Execution.MicroBatchSize} × accumulation {config.GradientAccumulation}), " +
                         $"{config.Ipus} IPU(s) on the {config.Execution.Backend.ToString().ToLowerInvariant()}, " +
                         HalfPrecision.Describe(config));

        using var trainer = new T5Trainer(config, inputs.Pretrained, inputs.Train, null, config.Inference, inputs.Tokenizer,
            LabelSet.Mnli, launch: launch);
        if (trainer.DeclaredShapes.Count > 0)
        {
            var lengths = trainer.DeclaredShapes.Select(s => $"{s.SourceLength}→{s.TargetLength}").ToList();
            output.WriteLine($"  programs: the run's {lengths.Count} batch shape(s) compiled before step 1, " +
                             $"{trainer.DeclaredShapes[0].BatchSize} rows of source→target tokens " +
                             string.Join(", ", lengths.Take(8)) + (lengths.Count > 8 ? ", …" : ""));
        }
        if (checkpoint is not null)
        {
            trainer.Resume(checkpoint);
            output.WriteLine($"  resumed at step {trainer.Step} from {checkpoint.Directory}");
        }
        if (writes) AtomicFile.WriteAllText(paths.ResolvedConfig, RunConfigWriter.ToYaml(config, includeDerived: false));

        TrainingOutcome outcome;
        if (writes)
        {
            using var metrics = new MetricsWriter(paths, checkpoint is null ? null : trainer.Step);
            if (metrics.DroppedRecords > 0)
                output.WriteLine($"  metrics: dropped {metrics.DroppedRecords} record(s) the earlier run wrote after step {trainer.Step}");
            var display = TrainingProgressDisplay.ForConsole(output);
            using (shutdown?.FinishStepOnStop())
            {
                outcome = await display.RunAsync("fine-tuning", config.Training.Steps,
                    observer => trainer.TrainAsync(new ObserverPair(metrics, observer), cancellation, instances));
            }
        }
        else
        {
            using (shutdown?.FinishStepOnStop())
                outcome = await trainer.TrainAsync(null, cancellation, instances);
        }
        if (outcome.SkippedSteps > 0)
            output.WriteLine($"  {outcome.SkippedSteps} step(s) skipped for non-finite loss or gradients (see metrics.jsonl)");
        if (outcome.Truncation.Any)
            output.WriteLine($"  note: {outcome.Truncation.Describe(config.Model.SourceLength, config.Model.TargetLength)}");
        if (outcome.LastCheckpoint is not null) output.WriteLine($"  training checkpoint: {outcome.LastCheckpoint}");

        var outputs = new Dictionary<string, string>
        {
            ["config"] = paths.ResolvedConfig,
            ["metrics_jsonl"] = paths.MetricsJsonl,
            ["metrics_csv"] = paths.MetricsCsv,
        };
        if (outcome.LastCheckpoint is not null) outputs["training_checkpoint"] = outcome.LastCheckpoint;

        if (writes)
        {
            var stepMetrics = MetricsWriter.ReadJsonl(paths.MetricsJsonl, config.Training.Steps);
            if (LossCurvePlot.Save(stepMetrics, paths.LossPlot, $"Fine-tuning loss ({Path.GetFileName(config.Model.Checkpoint)})"))
                outputs["loss_plot"] = paths.LossPlot;
            else
                output.WriteLine("  note: no step had a finite loss, so there is no loss plot");
        }

        var accuracy = new Dictionary<string, SplitAccuracy>(StringComparer.Ordinal);
        if (outcome.Interrupted)
        {
            output.WriteLine($"interrupted at step {outcome.StepsCompleted}: resume with `flant5 finetune --resume " +
                             $"--set output.run_dir={paths.RunDir}` and the same --config/--preset/--set options");
        }
        else
        {
            if (evaluate)
            {
                foreach (var (split, examples) in inputs.Eval)
                {
                    var result = trainer.Evaluate(split, examples, instances);
                    var path = paths.Evaluation(split);
                    if (writes) AtomicFile.WriteAllText(path, result.ToJson());
                    outputs[$"eval_{split}"] = path;
                    accuracy[split] = SplitAccuracy.From(result);
                    output.WriteLine(result.ToText());
                }
            }
            if (writes) trainer.SaveHfCheckpoint(paths.HfCheckpoint);
            outputs["hf_checkpoint"] = paths.HfCheckpoint;
        }
        // Every instance has finished with the run's outputs before any leaves.
        instances.AllGather([]);
        if (!writes) return outcome.Interrupted ? shutdown?.ExitCode ?? ExitCodes.Interrupted : ExitCodes.Success;

        var programsBuilt = trainer.Model.Session.ProgramsBuilt;
        var compilations = trainer.Model.Session.EngineCompilations;
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
            ProgramsBuilt = programsBuilt,
            EngineCompilations = compilations,
            Interrupted = outcome.Interrupted,
            TruncatedSources = outcome.Truncation.Sources,
            TruncatedTargets = outcome.Truncation.Targets,
            Launch = RunLaunch.Of(launch ?? InstanceLayout.Single(config.Execution.DataParallel)),
            Accuracy = accuracy,
            Outputs = outputs,
        };
        summary.Write(paths.Summary);

        output.WriteLine();
        output.WriteLine($"steps {outcome.StepsCompleted}/{outcome.StepsPlanned}, final loss {outcome.FinalLoss:F4}, " +
                         $"{outcome.SamplesPerSecond:F1} samples/s over {outcome.TrainSeconds:F1} s, " +
                         $"{programsBuilt} shape program set(s) in one engine, compiled {compilations} time(s)");
        foreach (var (split, a) in accuracy)
            output.WriteLine($"accuracy {split}: {a.Accuracy:P1} ({a.Correct}/{a.Total}, {a.Unknown} unknown)");
        output.WriteLine($"outputs in {summary.RunDir}:");
        foreach (var (name, path) in outputs) output.WriteLine($"  {name,-20} {path}");
        output.WriteLine($"  {"summary",-20} {paths.Summary}");
        return outcome.Interrupted ? shutdown?.ExitCode ?? ExitCodes.Interrupted : ExitCodes.Success;
    }

    /// <summary>Instance 0's checkpoint directory (null: none) for every instance; one process keeps its own.</summary>
    private static string? ShareCheckpoint(string? directory, IInstanceGroup instances)
    {
        if (instances.Count == 1) return directory;
        var theirs = instances.AllGather(Encoding.UTF8.GetBytes(directory ?? ""))[0];
        return theirs.Length == 0 ? null : Encoding.UTF8.GetString(theirs);
    }

    /// <summary>The config with instance 0's run directory (every instance learns it; one process keeps its own).</summary>
    private static RunConfig ShareRunDirectory(RunConfig config, IInstanceGroup instances)
    {
        if (instances.Count == 1) return config;
        var runDir = Encoding.UTF8.GetString(instances.AllGather(Encoding.UTF8.GetBytes(config.Output.RunDir))[0]);
        return config with { Output = config.Output with { RunDir = runDir } };
    }

    /// <summary>
    /// The checkpoint this run continues from (checkpoint.load, or with --resume the run directory's latest), checked
    /// to belong to this run's config; null for a run from the pretrained weights.
    /// </summary>
    private static TrainingCheckpoint? CheckpointToResume(RunConfig config, RunStart start, RunOutputPaths paths, bool force, TextWriter output)
    {
        TrainingCheckpoint? checkpoint;
        if (config.Checkpoint.Load is { } load) checkpoint = TrainingCheckpoint.Open(load);
        else if (start != RunStart.Resume) return null;
        else
        {
            checkpoint = new TrainingCheckpointStore(config.CheckpointDirectory, config.Checkpoint.Keep).LoadLatest();
            if (checkpoint is null)
            {
                var earlier = Directory.EnumerateFileSystemEntries(paths.RunDir).Select(Path.GetFileName)
                    .Where(n => n is not (DirectoryLock.FileName or RunOutputPaths.CheckpointsName)).ToList();
                if (earlier.Count > 0)
                    throw new IOException($"--resume: run directory {paths.RunDir} holds a run ({string.Join(", ", earlier.Take(6))}) but no " +
                                          $"training checkpoint in {config.CheckpointDirectory} to continue from; pass --overwrite to start it again");
                output.WriteLine($"  note: no training checkpoint in {config.CheckpointDirectory} yet; starting from the pretrained weights");
                return null;
            }
        }
        try
        {
            var manifestPath = Path.Combine(checkpoint.Directory, TrainingCheckpointManifest.FileName);
            var saved = RunConfigLoader.ParseJson(checkpoint.Manifest.RunConfig, manifestPath);
            var differences = ResumeCompatibility.Differences(saved, config);
            if (differences.Count > 0 && !force)
            {
                throw new InvalidDataException($"{checkpoint.Directory} was saved by a run with another config; it differs in:" +
                    string.Concat(differences.Select(d => $"{Environment.NewLine}  {d}")) + Environment.NewLine +
                    "Resume with the config the run started with, or pass --force-resume to continue with this one anyway.");
            }
            foreach (var d in differences) output.WriteLine($"  warning: --force-resume despite {d}");
            if (config.Training.Steps <= checkpoint.Step)
            {
                throw new ArgumentException($"training.steps is {config.Training.Steps}, but {checkpoint.Directory} is at step {checkpoint.Step}: " +
                    (config.Training.Steps == checkpoint.Step
                        ? $"the run is complete; export it with `flant5 convert --training-checkpoint {checkpoint.Directory} --output DIR`, " +
                          "or raise training.steps to train further"
                        : "raise training.steps past the checkpoint's step to train further"));
            }
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
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
