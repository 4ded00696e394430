using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using System.Xml.Linq;
using FlanT5.Poplar.Tests.Configuration;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: <c>dotnet pack</c> of this build into artifacts/packages (once, as
/// <c>build.ps1 pack</c> does), then, from a clean NuGet cache folder and working directories outside the repository,
/// the flant5 tool installed and run, and the sample consumer restored against the FlanT5.Poplar package, built and
/// run. Nothing may fall back on the repository's own build: FT5_NATIVE_PATH is unset and no folder above the
/// temporary ones has artifacts/native.
/// </summary>
[NonParallelizable]
public class PackageTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);
    private static readonly string[] Labels = ["entailment", "neutral", "contradiction"];
    private const string Prompt = "mnli hypothesis: Someone is writing a letter. premise: A woman is writing a letter near the river.";

    private readonly string _version =
        typeof(T5Trainer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
    private readonly string _configuration =
        typeof(PackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
    private readonly string _packages = RepositoryRoot.Combine("artifacts", "packages");
    private string _temp = "";
    private Dictionary<string, string> _environment = [];

    [OneTimeSetUp]
    public void PackTheBuild()
    {
        _temp = Path.Combine(Path.GetTempPath(), "ft5-packages-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
        _environment = new() { ["NUGET_PACKAGES"] = Path.Combine(_temp, "nuget-packages") };
        var pack = Dotnet(RepositoryRoot.Path, "pack", RepositoryRoot.Combine("FlanT5.Poplar.sln"), "-c", _configuration,
            "--no-build", "-nologo", "-v", "q", "-o", _packages);
        Assert.That(pack.ExitCode, Is.EqualTo(0), pack.Describe("dotnet pack"));
        TestContext.Progress.WriteLine($"dotnet pack: {pack.Elapsed.TotalSeconds:F1} s");
    }

    [OneTimeTearDown]
    public void DeleteTheTemporaryFolder()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail the run.
        }
    }

    [Test]
    public void RuntimePackageHoldsTheManagedRuntimeTheInteropAndLibft5()
    {
        using var package = ZipFile.OpenRead(Path.Combine(_packages, $"FlanT5.Poplar.{_version}.nupkg"));
        var entries = package.Entries.Select(e => e.FullName).ToList();
        Assert.That(entries, Is.SupersetOf(new[]
        {
            "runtimes/linux-x64/native/libft5.so",
            "lib/net10.0/FlanT5.Poplar.dll", "lib/net10.0/FlanT5.Poplar.xml",
            "lib/net10.0/FlanT5.Poplar.Interop.dll", "lib/net10.0/FlanT5.Poplar.Interop.xml",
            "README.md", "LICENSE",
        }));
        Assert.That(Bytes(package, "runtimes/linux-x64/native/libft5.so"),
            Is.EqualTo(File.ReadAllBytes(RepositoryRoot.Combine("artifacts", "native", _configuration, "libft5.so"))),
            "the packed libft5.so is the one this build made");

        var nuspec = XDocument.Load(new MemoryStream(Bytes(package, "FlanT5.Poplar.nuspec")));
        XNamespace ns = nuspec.Root!.GetDefaultNamespace();
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.That(metadata.Element(ns + "version")!.Value, Is.EqualTo(_version));
        Assert.That(metadata.Element(ns + "license")!.Value, Is.EqualTo("MIT"));
        Assert.That(metadata.Element(ns + "readme")!.Value, Is.EqualTo("README.md"));
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
        Assert.That(dependencies, Does.Contain("Microsoft.ML.Tokenizers"));
        Assert.That(dependencies, Has.None.StartsWith("FlanT5"), "the Interop ships inside the package, not as a dependency");

        using var symbols = ZipFile.OpenRead(Path.Combine(_packages, $"FlanT5.Poplar.{_version}.snupkg"));
        Assert.That(symbols.Entries.Select(e => e.FullName),
            Is.SupersetOf(new[] { "lib/net10.0/FlanT5.Poplar.pdb", "lib/net10.0/FlanT5.Poplar.Interop.pdb" }));
    }

    [Test]
    public void ToolInstallsFromTheLocalPackagesAndRunsFromAnyDirectory()
    {
        var work = Directory.CreateDirectory(Path.Combine(_temp, "tool-work")).FullName;
        var toolPath = Path.Combine(_temp, "tool");
        var install = Dotnet(work, "tool", "install", "--tool-path", toolPath, "--add-source", _packages,
            "FlanT5.Poplar.Cli", "--version", _version);
        Assert.That(install.ExitCode, Is.EqualTo(0), install.Describe("dotnet tool install"));
        var flant5 = Path.Combine(toolPath, "flant5");

        var help = Run(flant5, work, ["--help"]);
        Assert.That(help.ExitCode, Is.EqualTo(0), help.Describe("flant5 --help"));
        Assert.That(help.Output, Does.Contain("finetune").And.Contain("generate").And.Contain("parity").And.Contain("bench"));

        // No --model: the default run's model, the tiny Flan-T5 bundled in the tool.
        var generate = Run(flant5, work, ["generate", "--max-new-tokens", "4"], input: Prompt + "\n");
        Assert.That(generate.ExitCode, Is.EqualTo(0), generate.Describe("flant5 generate"));
        Assert.That(generate.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1), generate.Output);

        var finetune = Run(flant5, work, ["finetune", "--set", "training.steps=2", "--no-eval"]);
        Assert.That(finetune.ExitCode, Is.EqualTo(0), finetune.Describe("flant5 finetune"));
        // The preset's run_dir is runs/tiny-emulator/{timestamp}: one new folder for this one run.
        var runs = Directory.GetDirectories(Path.Combine(work, "runs", "tiny-emulator"));
        Assert.That(runs, Has.Length.EqualTo(1), finetune.Output);
        var runDir = runs[0];
        Assert.That(File.Exists(Path.Combine(runDir, "summary.json")), finetune.Output);
        Assert.That(File.Exists(Path.Combine(runDir, "hf-checkpoint", "model.safetensors")), finetune.Output);
        Assert.That(Directory.GetDirectories(toolPath, "runs", SearchOption.AllDirectories), Is.Empty,
            "the bundled preset writes into the working directory, never into the tool's folder");
        TestContext.Out.WriteLine($"tool install {install.Elapsed.TotalSeconds:F1} s, --help {help.Elapsed.TotalSeconds:F1} s, " +
                                  $"generate {generate.Elapsed.TotalSeconds:F1} s, finetune {finetune.Elapsed.TotalSeconds:F1} s");
    }

    [Test]
    public void SampleConsumerRestoresThePackageBuildsAndRuns()
    {
        var artifacts = Path.Combine(_temp, "sample");
        var build = Dotnet(_temp, "build", RepositoryRoot.Combine("samples", "FlanT5.Poplar.Sample"), "-c", "Release",
            "--artifacts-path", artifacts, "-nologo", "-v", "q");
        Assert.That(build.ExitCode, Is.EqualTo(0), build.Describe("dotnet build of the sample"));

        using (var assets = JsonDocument.Parse(File.ReadAllText(
                   Path.Combine(artifacts, "obj", "FlanT5.Poplar.Sample", "project.assets.json"))))
        {
            var library = assets.RootElement.GetProperty("libraries").GetProperty($"FlanT5.Poplar/{_version}");
            Assert.That(library.GetProperty("type").GetString(), Is.EqualTo("package"), "the sample references the package, not the project");
            Assert.That(assets.RootElement.GetProperty("packageFolders").EnumerateObject().Select(p => p.Name),
                Does.Contain(_environment["NUGET_PACKAGES"]), "restored into the clean cache folder");
        }
        var program = Directory.GetFiles(Path.Combine(artifacts, "bin"), "FlanT5.Poplar.Sample.dll", SearchOption.AllDirectories).Single();
        Assert.That(File.Exists(Path.Combine(Path.GetDirectoryName(program)!, "runtimes", "linux-x64", "native", "libft5.so")),
            "libft5.so comes from the package's runtimes/linux-x64/native/");

        var runDir = Path.Combine(_temp, "sample-run");
        var run = Run(ChildProcess.Dotnet, _temp, [program, runDir]);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Describe("the sample"));
        Assert.That(run.Output, Does.Contain("trained 30 steps").And.Contain("validation_matched: accuracy"));
        Assert.That(File.Exists(Path.Combine(runDir, "hf-checkpoint", "model.safetensors")), run.Output);
        var answer = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        Assert.That(answer, Does.StartWith("answer: "));
        Assert.That(answer["answer: ".Length..], Is.AnyOf(Labels), "the fine-tuned export answers with an MNLI label");
        TestContext.Out.WriteLine($"sample restore + build {build.Elapsed.TotalSeconds:F1} s, run {run.Elapsed.TotalSeconds:F1} s");
    }

    private ChildProcess.Result Dotnet(string workingDirectory, params string[] arguments) =>
        Run(ChildProcess.Dotnet, workingDirectory, arguments);

    private ChildProcess.Result Run(string program, string workingDirectory, string[] arguments, string? input = null) =>
        ChildProcess.Run(program, arguments, workingDirectory, _environment, Limit, input);

    private static byte[] Bytes(ZipArchive archive, string entry)
    {
        using var stream = archive.GetEntry(entry)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
