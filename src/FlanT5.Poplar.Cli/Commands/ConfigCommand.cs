using System.CommandLine;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary><c>flant5 config show|validate</c>: the resolved run config, and whether it can run.</summary>
internal static class ConfigCommand
{
    internal static Command Create(Func<string, string?> environment)
    {
        var command = new Command("config", "Show or check a run configuration");
        command.Subcommands.Add(CreateShow(environment));
        command.Subcommands.Add(CreateValidate());
        return command;
    }

    private static Command CreateShow(Func<string, string?> environment)
    {
        var options = new RunConfigOptions();
        var format = new Option<string>("--format")
        {
            Description = "Output format",
            DefaultValueFactory = _ => "yaml",
        };
        format.AcceptOnlyFromAmong("yaml", "json");
        var origins = new Option<bool>("--origins") { Description = "Also list where each non-default value was set" };
        var command = new Command("show", "Print the resolved config (defaults, file, overrides) with its derived values");
        options.AddTo(command);
        command.Options.Add(format);
        command.Options.Add(origins);
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var loaded = options.Load(parseResult);
            if (parseResult.GetValue(format) == "json")
            {
                output.WriteLine(RunConfigWriter.ToJson(loaded.Config, includeDerived: true));
            }
            else
            {
                output.WriteLine($"# source: {loaded.Source}");
                output.Write(RunConfigWriter.ToYaml(loaded.Config, includeDerived: false));
                output.WriteLine("# derived (computed from the values above; not settable):");
                foreach (var (key, value) in RunConfigWriter.Derived(loaded.Config))
                    output.WriteLine($"#   {key}: {value?.ToJsonString()}");
                output.WriteLine($"# launch: {DescribeLaunch(loaded.Config, environment)}");
            }
            if (parseResult.GetValue(origins))
            {
                output.WriteLine("# origins:");
                foreach (var (key, location) in loaded.Origins.Where(o => o.Value != ConfigLocation.Default).OrderBy(o => o.Key, StringComparer.Ordinal))
                    output.WriteLine($"#   {key}: {location}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>This process's launch layout against the config, or what is wrong with it (show describes, it does not refuse).</summary>
    private static string DescribeLaunch(RunConfig config, Func<string, string?> environment)
    {
        try
        {
            return RunConfigOptions.DetectLaunch(config, environment).Describe();
        }
        catch (InvalidLaunchException problem)
        {
            return $"error: {problem.Message}";
        }
    }

    private static Command CreateValidate()
    {
        var options = new RunConfigOptions();
        var skipPaths = new Option<bool>("--skip-paths")
        {
            Description = "Check values only, not that the model, data and checkpoint paths exist",
        };
        var command = new Command("validate", "Check a run config: values, their consistency, and that its files exist");
        options.AddTo(command);
        command.Options.Add(skipPaths);
        command.SetAction(parseResult =>
        {
            var loaded = options.Load(parseResult); // throws on inconsistent values, naming key and origin
            if (!parseResult.GetValue(skipPaths))
                RunConfigLoader.ThrowIfAny(loaded, RunConfigPathChecker.Check(loaded.Config));
            RunConfigLoader.ThrowIfAny(loaded, RunConfigPlacementCheck.Check(loaded.Config)); // the check finetune makes
            var c = loaded.Config;
            parseResult.InvocationConfiguration.Output.WriteLine(
                $"ok: {loaded.Source}: {c.Ipus} IPU(s) = data_parallel {c.Execution.DataParallel} × tensor_parallel " +
                $"{c.Execution.TensorParallel} × pipeline_stages {c.Execution.PipelineStages}, gradient accumulation " +
                $"{c.GradientAccumulation}, {c.Training.Steps} steps × {c.Training.GlobalBatchSize} samples, " +
                $"{c.Execution.Backend.ToString().ToLowerInvariant()}, {HalfPrecision.Describe(c)}");
            return ExitCodes.Success;
        });
        return command;
    }
}
