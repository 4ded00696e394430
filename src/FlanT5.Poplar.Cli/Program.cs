using System.CommandLine;
using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Cli;

internal static class Program
{
    /// <summary>The subcommands of <c>flant5</c>: one line each; each lives in Commands/&lt;Name&gt;Command.cs.
    /// <paramref name="shutdown"/> is the process's signal handling (null in-process: cancellation by token only);
    /// <paramref name="environment"/> the environment variables the launch is read from (default: the process's).</summary>
    internal static Command[] CreateCommands(ShutdownSignal? shutdown = null, Func<string, string?>? environment = null) =>
    [
        ConfigCommand.Create(environment ?? Environment.GetEnvironmentVariable),
        FinetuneCommand.Create(environment ?? Environment.GetEnvironmentVariable, shutdown),
        EvaluateCommand.Create(environment ?? Environment.GetEnvironmentVariable),
        GenerateCommand.Create(),
        ActivationsCommand.Create(),
        PlanCommand.Create(),
        ParityCommand.Create(),
        BenchCommand.Create(),
        TokenizeCommand.Create(),
        ConvertCommand.Create(),
        CheckpointWriteProbeCommand.Create(),
    ];

    private static Task<int> Main(string[] args) => CliApplication.RunAsync(args, shutdown => CreateCommands(shutdown));
}
