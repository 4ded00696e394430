using System.CommandLine;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>The options every command that needs a run config shares: --config FILE | --preset NAME, --set k=v ...</summary>
internal sealed class RunConfigOptions
{
    public Option<string?> Config { get; } = new("--config", "-c")
    {
        Description = "Run config file (.yaml, .yml or .json); default: the tiny-emulator preset",
    };

    public Option<string?> Preset { get; } = new("--preset", "-p")
    {
        Description = "Preset under configs/: tiny-emulator, fp16-safe, xl-pod8, xl-pod16, xxl-pod16, xxl-pod64",
    };

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "Override one key, e.g. --set training.steps=100 (repeatable)",
        Arity = ArgumentArity.ZeroOrMore,
        DefaultValueFactory = _ => [],
    };

    public Option<string?> Precision { get; } = new("--precision")
    {
        Description = "fp32 or fp16: overrides model.precision (fp16 computes as the IPU does: fp16 weights, activations and gradients)",
    };

    public Option<bool> DetectOverflow { get; } = new("--detect-overflow")
    {
        Description = "Stop at the first op that overflows (past fp16's 65504, or NaN) with exit code 3, naming it: execution.detect_overflow",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Preset);
        command.Options.Add(Set);
    }

    /// <summary>Adds --precision too (the commands that run the model).</summary>
    public void AddWithPrecisionTo(Command command)
    {
        AddTo(command);
        command.Options.Add(Precision);
        command.Options.Add(DetectOverflow);
    }

    /// <summary>
    /// Loads and validates the config the options describe. With neither --config nor --preset it reads the
    /// tiny-emulator preset file when one is found (its input paths are relative to the file, so the default run works
    /// from any directory of the checkout, and from anywhere with the installed tool, which bundles configs/ and the
    /// tiny model and data beside it), else the built-in defaults, which hold the same values.
    /// </summary>
    public LoadedRunConfig Load(ParseResult parseResult)
    {
        var workingDirectory = Environment.CurrentDirectory;
        var file = parseResult.GetValue(Config);
        var preset = parseResult.GetValue(Preset);
        if (file is null && preset is null) file = PresetLocator.TryFind(DefaultPreset, workingDirectory);
        IReadOnlyList<string> sets = parseResult.GetValue(Set) ?? [];
        // --precision is the last word on model.precision, after every --set
        if (parseResult.GetValue(Precision) is { } precision) sets = [.. sets, $"model.precision={precision}"];
        if (parseResult.GetValue(DetectOverflow)) sets = [.. sets, "execution.detect_overflow=true"];
        return RunConfigLoader.Load(file, preset, sets, workingDirectory);
    }

    /// <summary>
    /// What a command that runs <paramref name="config"/> (loaded as <paramref name="loaded"/>, perhaps with options
    /// applied) checks before it starts: the placement against the model, the number formats, and the launch (<paramref name="environment"/> holds the launcher's variables), which must be of one instance
    /// unless the command <paramref name="runsAcrossInstances"/>. Returns this process's place in the launch.
    /// </summary>
    public static InstanceLayout ThrowUnlessRunnable(LoadedRunConfig loaded, RunConfig config, Func<string, string?> environment,
        string command, bool runsAcrossInstances = false)
    {
        RunConfigLoader.ThrowIfAny(loaded, [.. RunConfigPlacementCheck.Check(config), .. HalfPrecision.RefusedForRunning(config)]);
        var layout = DetectLaunch(config, environment);
        if (layout.IsMultiInstance && !runsAcrossInstances)
        {
            throw new ArgumentException(
                $"launch: {layout.Describe()}: {command} runs as one instance (finetune and evaluate run across " +
                "instances). Run one process (execution.instances: 1), which drives all execution.data_parallel replicas itself");
        }
        return layout;
    }

    /// <summary>This process's place in the run's launch (<see cref="InstanceLayout.Detect"/> against the config's plan).</summary>
    public static InstanceLayout DetectLaunch(RunConfig config, Func<string, string?> environment) =>
        InstanceLayout.Detect(environment, config.Execution.DataParallel, config.IpusPerReplica, config.Execution.Instances);

    /// <summary>The config a command uses when given no config options (see <see cref="Load"/>).</summary>
    public static LoadedRunConfig LoadDefault()
    {
        var workingDirectory = Environment.CurrentDirectory;
        return RunConfigLoader.Load(PresetLocator.TryFind(DefaultPreset, workingDirectory), null, [], workingDirectory);
    }

    public const string DefaultPreset = "tiny-emulator";
}
