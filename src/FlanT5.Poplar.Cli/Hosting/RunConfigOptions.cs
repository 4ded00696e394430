using System.CommandLine;
using FlanT5.Poplar.Configuration;

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
        Description = "Preset under configs/: tiny-emulator, xl-pod8, xl-pod16, xxl-pod16, xxl-pod64",
    };

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "Override one key, e.g. --set training.steps=100 (repeatable)",
        Arity = ArgumentArity.ZeroOrMore,
        DefaultValueFactory = _ => [],
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Preset);
        command.Options.Add(Set);
    }

    /// <summary>Loads and validates the config the options describe, relative to the working directory.</summary>
    public LoadedRunConfig Load(ParseResult parseResult) => RunConfigLoader.Load(
        parseResult.GetValue(Config), parseResult.GetValue(Preset), parseResult.GetValue(Set) ?? [], Environment.CurrentDirectory);
}
