using System.CommandLine;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>
/// Builds the root command and runs it: parse errors and user errors become one line and exit code 2, other
/// failures exit 1; SIGINT and SIGTERM stop the process (130, 143), or let a trainer checkpoint and stop
/// (<see cref="ShutdownSignal"/>).
/// </summary>
internal static class CliApplication
{
    public const string VerboseOptionName = "--verbose";

    public static RootCommand BuildRootCommand(IEnumerable<Command> commands)
    {
        var root = new RootCommand("flant5: fine-tune, evaluate and run Flan-T5 on Graphcore IPUs or the IPU emulator");
        root.Options.Add(new Option<bool>(VerboseOptionName, "-v")
        {
            Description = "Show stack traces and extra detail",
            Recursive = true,
        });
        foreach (var command in commands) root.Subcommands.Add(command);
        return root;
    }

    /// <summary>Runs the process's command line on the real console, with SIGINT and SIGTERM handling.</summary>
    public static async Task<int> RunAsync(string[] args, Func<ShutdownSignal, IEnumerable<Command>> commands)
    {
        using var shutdown = new ShutdownSignal(Console.Error);
        return await RunAsync(args, commands(shutdown), Console.Out, Console.Error, shutdown.Token);
    }

    /// <summary>Runs a command line against the given writers (tests call this in-process).</summary>
    public static async Task<int> RunAsync(
        string[] args, IEnumerable<Command> commands, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        var root = BuildRootCommand(commands);
        var parseResult = root.Parse(args);
        var verbose = parseResult.GetResult(VerboseOptionName) is not null && parseResult.GetValue<bool>(VerboseOptionName);
        if (parseResult.Errors.Count > 0 && parseResult.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var parseError in parseResult.Errors) await error.WriteLineAsync($"error: {parseError.Message}");
            await error.WriteLineAsync($"Run '{("flant5 " + CommandPath(parseResult)).TrimEnd()} --help' for usage.");
            return ExitCodes.UserError;
        }
        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null, // ShutdownSignal owns Ctrl-C: the trainer needs longer than 2 s to save
        };
        try
        {
            return await parseResult.InvokeAsync(configuration, cancellation);
        }
        catch (Exception e)
        {
            return CliErrorHandler.Report(e, error, verbose);
        }
    }

    private static string CommandPath(ParseResult parseResult)
    {
        var names = new List<string>();
        for (var result = parseResult.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            names.Insert(0, result.Command.Name);
        return string.Join(' ', names);
    }
}

/// <summary>Process exit codes of flant5 (the README lists them).</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A bug: the message says to report it, --verbose shows the stack trace.</summary>
    public const int InternalError = 1;
    /// <summary>Bad arguments, config, data or files: the user can fix it; no stack trace.</summary>
    public const int UserError = 2;
    /// <summary>--detect-overflow stopped the run at the first op that overflowed; the message names it.</summary>
    public const int Overflow = 3;
    /// <summary>Stopped by Ctrl-C (128 + SIGINT).</summary>
    public const int Interrupted = 130;
    /// <summary>Stopped by SIGTERM (128 + SIGTERM).</summary>
    public const int Terminated = 143;

    public static int ForSignal(System.Runtime.InteropServices.PosixSignal signal) =>
        signal == System.Runtime.InteropServices.PosixSignal.SIGTERM ? Terminated : Interrupted;
}
