using FlanT5.Poplar.Tests.Packaging;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>Runs Open MPI's mpirun (installed by <c>build.ps1 bootstrap</c>) in the test directory, with a time limit.</summary>
internal static class Mpirun
{
    // As root Open MPI refuses to start without both variables; for other users they change nothing.
    private static readonly Dictionary<string, string> AllowRoot = new()
    {
        ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1",
    };

    /// <summary>The flant5 command line under mpirun: dotnet and the built flant5.dll.</summary>
    public static string[] Flant5(params string[] args) => [ChildProcess.Dotnet, ChildCli.CliDll, .. args];

    /// <summary>
    /// <c>mpirun --oversubscribe ARGS</c> (two processes may share fewer cores); past <paramref name="limit"/> the
    /// whole process tree is killed and the test fails, so a stuck launch cannot hang CI.
    /// </summary>
    public static ChildProcess.Result Run(IEnumerable<string> args, TimeSpan limit) =>
        ChildProcess.Run(Path(), ["--oversubscribe", .. args], TestContext.CurrentContext.TestDirectory, AllowRoot, limit);

    /// <summary>
    /// The same, with <paramref name="signal"/> (INT, TERM) sent to mpirun <paramref name="after"/> its start, as a
    /// user's Ctrl-C reaches it: mpirun passes it on to every instance.
    /// </summary>
    public static ChildProcess.Result RunAndSignal(IEnumerable<string> args, string signal, TimeSpan after, TimeSpan limit)
    {
        static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var command = string.Join(" ", new[] { Path(), "--oversubscribe" }.Concat(args).Select(Quote));
        var script = $"{command} & pid=$!; sleep {after.TotalSeconds:0}; kill -{signal} $pid; wait $pid";
        return ChildProcess.Run("/bin/sh", ["-c", script], TestContext.CurrentContext.TestDirectory, AllowRoot, limit);
    }

    private static string Path()
    {
        var mpirun = Environment.GetEnvironmentVariable("PATH")!.Split(':')
            .Select(dir => System.IO.Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);
        if (mpirun is null) Assert.Fail("mpirun not found on PATH: run `build.ps1 bootstrap` (it installs openmpi-bin)");
        return mpirun!;
    }
}
