using System.CommandLine;
using FlanT5.Poplar.Cli;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>Runs flant5 in-process with captured output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(params string[] args) => Run(Program.CreateCommands(), CancellationToken.None, args);

    public static Result Run(IEnumerable<Command> commands, CancellationToken cancellation, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CliApplication.RunAsync(args, commands, output, error, cancellation).GetAwaiter().GetResult();
        return new Result(code, output.ToString(), error.ToString());
    }
}
