using System.Diagnostics;

namespace FlanT5.Poplar.Tests.Packaging;

/// <summary>
/// Runs a program as a user would, in a directory of the test's choosing, with captured output and a time limit.
/// The environment is the test's, less FT5_NATIVE_PATH (which would override where libft5.so is looked for), with
/// the given variables set and the .NET CLI's first-run chatter off.
/// </summary>
internal static class ChildProcess
{
    public sealed record Result(int ExitCode, string Output, string Error, TimeSpan Elapsed)
    {
        public string Describe(string what) => $"{what} exited {ExitCode} after {Elapsed.TotalSeconds:F1} s\n{Output}\n{Error}";
    }

    /// <summary>The dotnet executable that runs the tests (the SDK that built them).</summary>
    public static string Dotnet { get; } = FindDotnet();

    public static Result Run(string program, IEnumerable<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, TimeSpan limit, string? input = null)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment.Remove("FT5_NATIVE_PATH");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // An app host (the installed tool's `flant5`) finds the runtime through DOTNET_ROOT.
        start.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(Dotnet)!;
        foreach (var (name, value) in environment) start.Environment[name] = value;

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{program} {string.Join(' ', arguments)} ran past {limit.TotalSeconds} s:\n{output.Result}\n{error.Result}");
        }
        return new Result(process.ExitCode, output.Result, error.Result, clock.Elapsed);
    }

    private static string FindDotnet()
    {
        // Set by the dotnet CLI for the processes it starts (dotnet test, and the test host under it).
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(dir, "dotnet");
            if (File.Exists(candidate)) return new FileInfo(candidate).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? candidate;
        }
        throw new InvalidOperationException("dotnet is neither DOTNET_HOST_PATH nor on PATH");
    }
}
