using System.Diagnostics;
using FlanT5.Poplar.Tests.Configuration;

namespace FlanT5.Poplar.Tests.Build;

/// <summary>
/// The bootstrap's decision (tools/build/Bootstrap.ps1, dot-sourced as build.ps1 does) for root and other users, with
/// and without sudo, packages present and missing: the exact commands it would run. And `build.ps1 bootstrap -DryRun`
/// on this machine against what dpkg says is installed, and with packages missing (dpkg-query, id and sudo faked on
/// PATH) for root and for another user.
/// </summary>
public class BootstrapTests
{
    private static readonly string Script = RepositoryRoot.Combine("tools", "build", "Bootstrap.ps1").Replace("'", "''");

    // Every decision the tests look at, computed in one PowerShell run (it takes seconds to start):
    // (missing packages, isRoot, hasSudo) → the commands, one line each, or "error: …".
    private static readonly (string[] Missing, bool IsRoot, bool HasSudo)[] Cases =
    [
        ([], true, false), ([], false, true), ([], false, false),
        (["libopenblas-dev", "sentencepiece"], true, false), (["cmake"], true, true),
        (["libgtest-dev", "sentencepiece"], false, true), (["libopenblas-dev", "sentencepiece"], false, false),
        (["openmpi-bin", "libopenmpi-dev"], true, false), (["openmpi-bin", "libopenmpi-dev"], false, true),
    ];

    private static readonly Lazy<Dictionary<string, List<string>>> s_decisions = new(() =>
    {
        var script = new System.Text.StringBuilder($". '{Script}'; ");
        foreach (var (missing, isRoot, hasSudo) in Cases)
        {
            string key = Key(missing, isRoot, hasSudo);
            string list = missing.Length == 0 ? "@()" : "@(" + string.Join(", ", missing.Select(m => $"'{m}'")) + ")";
            script.Append($"'[{key}]'; try {{ foreach ($c in (Get-BootstrapCommands {list} ${isRoot} ${hasSudo})) {{ $c -join ' ' }} }} " +
                          "catch { 'error: ' + $_.Exception.Message }; ");
        }
        script.Append("'[missing]'; (Get-MissingPackages @('cmake', 'g++', 'make', 'sentencepiece') { param($n) $n -in @('g++', 'make') }) -join ','; " +
                      "(Get-MissingPackages @('cmake') { $true }).Count; '[packages]'; $BootstrapPackages -join ' '; '[bench]'; $BenchPackages -join ' '");
        var result = PinnedPowerShell.Run(script.ToString());
        Assert.That(result.ExitCode, Is.Zero, result.Error);
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('[') && line.EndsWith(']')) sections[line[1..^1]] = current = [];
            else current?.Add(line);
        }
        return sections;
    });

    private static string Key(string[] missing, bool isRoot, bool hasSudo) => $"{string.Join(' ', missing)}|{isRoot}|{hasSudo}";

    private static List<string> Commands(string[] missing, bool isRoot, bool hasSudo) =>
        s_decisions.Value[Key(missing, isRoot, hasSudo)];

    [Test]
    public void NothingMissingRunsNothingForAnyUser()
    {
        Assert.That(Commands([], isRoot: true, hasSudo: false), Is.Empty);
        Assert.That(Commands([], isRoot: false, hasSudo: true), Is.Empty);
        Assert.That(Commands([], isRoot: false, hasSudo: false), Is.Empty, "no sudo is needed when nothing is missing");
    }

    [Test]
    public void RootRunsAptGetItselfWithoutSudo()
    {
        Assert.That(Commands(["libopenblas-dev", "sentencepiece"], isRoot: true, hasSudo: false), Is.EqualTo(new[]
        {
            "apt-get update -qq",
            "apt-get install -y -qq --no-install-recommends libopenblas-dev sentencepiece",
        }));
        Assert.That(Commands(["cmake"], isRoot: true, hasSudo: true), Is.EqualTo(new[]
        {
            "apt-get update -qq",
            "apt-get install -y -qq --no-install-recommends cmake",
        }), "root does not go through sudo even where it exists");
    }

    [Test]
    public void AnotherUserGoesThroughSudo()
    {
        Assert.That(Commands(["libgtest-dev", "sentencepiece"], isRoot: false, hasSudo: true), Is.EqualTo(new[]
        {
            "sudo apt-get update -qq",
            "sudo apt-get install -y -qq --no-install-recommends libgtest-dev sentencepiece",
        }));
    }

    [Test]
    public void AnotherUserWithoutSudoIsToldWhatToInstall()
    {
        Assert.That(Commands(["libopenblas-dev", "sentencepiece"], isRoot: false, hasSudo: false),
            Is.EqualTo(new[] { "error: bootstrap: need root (or sudo) to install: libopenblas-dev sentencepiece" }));
    }

    [Test]
    public void OpenMpiIsInstalledWithTheOtherPackages()
    {
        var packages = s_decisions.Value["packages"].Single().Split(' ');
        Assert.That(packages, Is.EqualTo(new[]
        {
            "cmake", "g++", "make", "libopenblas-dev", "libgtest-dev", "sentencepiece", "openmpi-bin", "libopenmpi-dev",
        }));
        Assert.That(Commands(["openmpi-bin", "libopenmpi-dev"], isRoot: true, hasSudo: false), Is.EqualTo(new[]
        {
            "apt-get update -qq",
            "apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev",
        }));
        Assert.That(Commands(["openmpi-bin", "libopenmpi-dev"], isRoot: false, hasSudo: true), Is.EqualTo(new[]
        {
            "sudo apt-get update -qq",
            "sudo apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev",
        }));
    }

    [Test]
    public void MissingPackagesKeepTheRequiredOrder()
    {
        Assert.That(s_decisions.Value["missing"], Is.EqualTo(new[] { "cmake,sentencepiece", "0" }));
    }

    [Test]
    public void TheBenchmarksPeerIsInstalledForTheBenchOnly()
    {
        Assert.That(s_decisions.Value["bench"].Single().Split(' '), Is.EqualTo(new[] { "python3-torch" }),
            "torch_t5.py runs under /usr/bin/python3");
        Assert.That(s_decisions.Value["packages"].Single().Split(' '), Does.Not.Contain("python3-torch"),
            "the build and the tests do not need PyTorch");
        var build = File.ReadAllText(RepositoryRoot.Combine("build.ps1"));
        Assert.That(build, Does.Contain("Invoke-Bootstrap -Extra $BenchPackages"), "build.ps1 bench installs it");
    }

    [Test]
    public void DryRunOnThisMachineAgreesWithDpkg()
    {
        var packages = s_decisions.Value["packages"].Single().Split(' ');
        Assert.That(packages, Does.Contain("libopenblas-dev").And.Contain("sentencepiece"));
        var missing = packages.Where(p => !Installed(p)).ToArray();
        bool root = Run("id", "-u").Trim() == "0";

        var dryRun = PinnedPowerShell.RunFile(RepositoryRoot.Combine("build.ps1"), ["bootstrap", "-DryRun"]);

        Assert.That(dryRun.ExitCode, Is.Zero, dryRun.Output + dryRun.Error);
        var lines = dryRun.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (missing.Length == 0)
        {
            Assert.That(lines, Is.EqualTo(new[] { "bootstrap: all system packages present." }));
            return;
        }
        string sudo = root ? "" : "sudo ";
        Assert.That(lines, Is.EqualTo(new[]
        {
            $"bootstrap: installing {string.Join(", ", missing)}",
            $"would run: {sudo}apt-get update -qq",
            $"would run: {sudo}apt-get install -y -qq --no-install-recommends {string.Join(' ', missing)}",
        }));
    }

    [TestCase("0", "")]
    [TestCase("1000", "sudo ")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void DryRunWithPackagesMissingNamesThemAndTheUsersCommands(string uid, string sudo)
    {
        // dpkg-query says sentencepiece, libopenblas-dev and openmpi-bin are not installed; id -u answers uid; sudo exists.
        var bin = Path.Combine(Path.GetTempPath(), $"ft5-bootstrap-{Guid.NewGuid():N}");
        Directory.CreateDirectory(bin);
        try
        {
            Fake(bin, "dpkg-query", "case \"$*\" in *sentencepiece*|*libopenblas-dev*|*openmpi-bin*) exit 1;; esac\nprintf 'install ok installed'");
            Fake(bin, "id", $"echo {uid}");
            Fake(bin, "sudo", "exit 99");
            var path = bin + ":" + Environment.GetEnvironmentVariable("PATH");
            var dryRun = PinnedPowerShell.RunFile(RepositoryRoot.Combine("build.ps1"), ["bootstrap", "-DryRun"],
                new Dictionary<string, string> { ["PATH"] = path });

            Assert.That(dryRun.ExitCode, Is.Zero, dryRun.Output + dryRun.Error);
            Assert.That(dryRun.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), Is.EqualTo(new[]
            {
                "bootstrap: installing libopenblas-dev, sentencepiece, openmpi-bin",
                $"would run: {sudo}apt-get update -qq",
                $"would run: {sudo}apt-get install -y -qq --no-install-recommends libopenblas-dev sentencepiece openmpi-bin",
            }));
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
        }
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void Fake(string dir, string name, string body)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static bool Installed(string package)
    {
        var psi = new ProcessStartInfo("dpkg-query", ["-W", "-f", "${Status}", package]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        string status = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 && status.Contains("install ok installed", StringComparison.Ordinal);
    }

    private static string Run(string program, params string[] arguments)
    {
        var psi = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true };
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
