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
    /// The same in the background of a shell: once the shell test <paramref name="ready"/> holds (polled every 0.2 s,
    /// for at most a minute), the shell runs <paramref name="then"/> (where <c>$mpirun</c> is mpirun's pid: a user's
    /// Ctrl-C is <c>kill -INT $mpirun</c>) and waits for mpirun. Waiting for the run's own progress, not for a fixed
    /// time, keeps the test right on a slow or busy machine.
    /// </summary>
    public static ChildProcess.Result RunUntil(IEnumerable<string> args, string ready, string then, TimeSpan limit)
    {
        var command = string.Join(" ", new[] { Path(), "--oversubscribe" }.Concat(args).Select(Quote));
        var script = $"{command} & mpirun=$!; i=0; until {ready}; do sleep 0.2; i=$((i + 1)); [ $i -gt 300 ] && break; done; " +
                     $"{then}; wait $mpirun";
        return ChildProcess.Run("/bin/sh", ["-c", script], TestContext.CurrentContext.TestDirectory, AllowRoot, limit);
    }

    /// <summary>One word for the shell.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string Path()
    {
        var mpirun = Environment.GetEnvironmentVariable("PATH")!.Split(':')
            .Select(dir => System.IO.Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);
        if (mpirun is null) Assert.Fail("mpirun not found on PATH: run `build.ps1 bootstrap` (it installs openmpi-bin)");
        return mpirun!;
    }
}
