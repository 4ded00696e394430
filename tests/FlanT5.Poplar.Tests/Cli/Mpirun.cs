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
    public static ChildProcess.Result Run(IEnumerable<string> args, TimeSpan limit)
    {
        var mpirun = Environment.GetEnvironmentVariable("PATH")!.Split(':')
            .Select(dir => Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);
        if (mpirun is null) Assert.Fail("mpirun not found on PATH: run `build.ps1 bootstrap` (it installs openmpi-bin)");
        return ChildProcess.Run(mpirun!, ["--oversubscribe", .. args], TestContext.CurrentContext.TestDirectory, AllowRoot, limit);
    }
}
