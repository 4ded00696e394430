using System.Diagnostics;
using FlanT5.Poplar.Tests.Configuration;

namespace FlanT5.Poplar.Tests.Build;

/// <summary>
/// NativeBuild.targets (the CMake step of `dotnet build`) on a stand-in CMake project in a temporary folder: a
/// configure that fails names the cause as an MSBuild error and leaves a half-configured build folder (CMakeCache.txt,
/// no Makefile); once the cause is fixed, the next build configures again instead of running make on nothing.
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public class NativeBuildTargetsTests
{
    [Test]
    public void AFailedConfigureIsReportedAndRetriedByTheNextBuild()
    {
        var root = Path.Combine(Path.GetTempPath(), $"ft5-native-build-{Guid.NewGuid():N}");
        var source = Path.Combine(root, "native");
        var build = Path.Combine(root, "build");
        Directory.CreateDirectory(source);
        try
        {
            File.WriteAllText(Path.Combine(source, "ft5.c"), "int ft5_stand_in(void) { return 5; }\n");
            File.WriteAllText(Path.Combine(source, "CMakeLists.txt"),
                "cmake_minimum_required(VERSION 3.16)\nproject(stand_in C)\nmessage(FATAL_ERROR \"OpenBLAS not found\")\n");

            var failed = BuildNative(source, build);
            Assert.That(failed.ExitCode, Is.Not.Zero, failed.Output);
            Assert.That(failed.Output, Does.Contain("error").And.Contain("OpenBLAS not found"));
            Assert.That(File.Exists(Path.Combine(build, "CMakeCache.txt")), Is.True, "a failed configure leaves its cache");
            Assert.That(File.Exists(Path.Combine(build, "Makefile")), Is.False);

            File.WriteAllText(Path.Combine(source, "CMakeLists.txt"),
                "cmake_minimum_required(VERSION 3.16)\nproject(stand_in C)\nadd_library(ft5 SHARED ft5.c)\n");
            var fixedBuild = BuildNative(source, build);
            Assert.That(fixedBuild.ExitCode, Is.Zero, fixedBuild.Output);
            Assert.That(File.Exists(Path.Combine(build, "libft5.so")), Is.True, fixedBuild.Output);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static (int ExitCode, string Output) BuildNative(string source, string build)
    {
        var project = RepositoryRoot.Combine("src", "FlanT5.Poplar.Interop", "FlanT5.Poplar.Interop.csproj");
        var psi = new ProcessStartInfo("dotnet",
            ["msbuild", project, "-t:Ft5BuildNative", "-p:Configuration=Release", $"-p:Ft5NativeSourceDir={source}",
             $"-p:Ft5NativeBuildDir={build}", "-nologo", "-v:m", "-nodeReuse:false"])
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
