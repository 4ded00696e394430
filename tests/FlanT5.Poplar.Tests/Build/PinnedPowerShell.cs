using System.Diagnostics;
using FlanT5.Poplar.Tests.Configuration;

namespace FlanT5.Poplar.Tests.Build;

/// <summary>Runs a script with the repository's pinned PowerShell (`dotnet pwsh`, .config/dotnet-tools.json).</summary>
internal static class PinnedPowerShell
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(string script, IReadOnlyDictionary<string, string>? environment = null) =>
        Exec(["pwsh", "-NoProfile", "-NonInteractive", "-Command", script], environment);

    public static Result RunFile(string file, string[] arguments, IReadOnlyDictionary<string, string>? environment = null) =>
        Exec(["pwsh", "-NoProfile", "-NonInteractive", "-File", file, .. arguments], environment);

    private static Result Exec(string[] arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} did not finish in 2 minutes");
        }
        var result = new Result(process.ExitCode, output.Result, error.Result);
        if (result.Error.Contains("dotnet tool restore", StringComparison.Ordinal))
            Assert.Fail($"the pinned PowerShell is not restored: run `dotnet tool restore` in {RepositoryRoot.Path}\n{result.Error}");
        return result;
    }
}
