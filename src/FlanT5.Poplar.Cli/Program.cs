using System.CommandLine;
using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Cli;

internal static class Program
{
    /// <summary>The subcommands of <c>flant5</c>: one line each; each lives in Commands/&lt;Name&gt;Command.cs.</summary>
    internal static Command[] CreateCommands() =>
    [
        ConfigCommand.Create(),
        FinetuneCommand.Create(),
        EvaluateCommand.Create(),
        GenerateCommand.Create(),
        PlanCommand.Create(),
        ParityCommand.Create(),
        BenchCommand.Create(),
        TokenizeCommand.Create(),
        ConvertCommand.Create(),
        CheckpointWriteProbeCommand.Create(),
    ];

    private static Task<int> Main(string[] args) => CliApplication.RunAsync(args, CreateCommands());
}
