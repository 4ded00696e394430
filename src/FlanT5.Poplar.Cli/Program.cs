using System.CommandLine;
using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Cli;

internal static class Program
{
    /// <summary>The subcommands of <c>flant5</c>: one line each; each lives in Commands/&lt;Name&gt;Command.cs.
    /// <paramref name="shutdown"/> is the process's signal handling (null in-process: cancellation by token only).</summary>
    internal static Command[] CreateCommands(ShutdownSignal? shutdown = null) =>
    [
        ConfigCommand.Create(),
        FinetuneCommand.Create(shutdown),
        EvaluateCommand.Create(),
        GenerateCommand.Create(),
        PlanCommand.Create(),
        ParityCommand.Create(),
        BenchCommand.Create(),
        TokenizeCommand.Create(),
        ConvertCommand.Create(),
        CheckpointWriteProbeCommand.Create(),
    ];

    private static Task<int> Main(string[] args) => CliApplication.RunAsync(args, CreateCommands);
}
