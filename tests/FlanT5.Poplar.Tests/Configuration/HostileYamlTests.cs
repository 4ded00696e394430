using System.Diagnostics;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Tests.Cli;

namespace FlanT5.Poplar.Tests.Configuration;

/// <summary>
/// A YAML config cannot crash the process or run away with its memory: recursive aliases, alias bombs and deep
/// nesting are refused with the file, line and column, as is every syntax error; a fuzz pass holds that to random
/// inputs.
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public sealed class HostileYamlTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-yaml-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string BillionLaughs()
    {
        var text = "lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
        for (int i = 1; i <= 9; i++) text += $"lol{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]\n";
        return text;
    }

    [Test]
    public void HostileFilesAreRefusedInAChildProcessNamingFileLineAndColumn()
    {
        // In a child process: a stack overflow (the recursive alias did that) kills a process outright.
        var cases = new (string Name, string Text, string Expected)[]
        {
            ("recursive.yaml", "a: &a [*a]\n", "recursive.yaml:1:8: alias *a refers to a node that contains it"),
            ("laughs.yaml", BillionLaughs(), "laughs.yaml:5:"),
            ("deep.yaml", "model: " + new string('[', 100_000) + "\n", "deep.yaml:1:"),
            ("unclosed.yaml", "training:\n  steps: [1, 2\n", "unclosed.yaml:3:1: not valid YAML"),
        };
        foreach (var (name, text, expected) in cases)
        {
            var path = Write(name, text);
            var clock = Stopwatch.StartNew();
            var (code, output, error) = ChildCli.Run(["config", "show", "--config", path], shellPrefix: "ulimit -v 8000000;", timeoutSeconds: 60);
            Assert.That(code, Is.EqualTo(2), $"{name}: {output}{error}");
            Assert.That(error, Does.Contain(Path.Combine(_dir, expected)), name);
            Assert.That(error, Does.Not.Contain("internal error"), name);
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), name);
        }
    }

    [Test]
    public void TheAliasBombIsRefusedWithinBoundedMemory()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => ConfigDocumentReader.ReadYaml(BillionLaughs(), "laughs.yaml"))!;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(e.Message, Does.Contain("expands to more than"));
        Assert.That(allocated, Is.LessThan(8 << 20), "refused before it expands");
    }

    [Test]
    public void AnAliasOfASectionIsReadAsThatSection()
    {
        var config = RunConfigLoader.Load(Write("ok.yaml", "training: &t\n  steps: 7\n  seed: 3\ninference:\n  max_new_tokens: &n 9\n  batch_size: *n\n"),
            null, [], _dir).Config;
        Assert.That((config.Training.Steps, config.Inference.MaxNewTokens, config.Inference.BatchSize), Is.EqualTo((7, 9, 9)));
    }

    [Test]
    public void JsonSyntaxErrorsNameFileLineAndColumn()
    {
        var e = Assert.Throws<InvalidDataException>(() => ConfigDocumentReader.ReadJson("{\n  \"training\": {\"steps\": 5,,}\n}", "c.json"))!;
        Assert.That(e.Message, Does.Match(@"^c\.json:2:\d+: not valid JSON"));
    }

    [Test]
    public void AFuzzPassOverYamlConfigsHasNoCrashAndBoundedMemory()
    {
        var seeds = Directory.GetFiles(RepositoryRoot.Combine("configs"), "*.yaml").Select(File.ReadAllText).ToList();
        int cases = int.Parse(TestContext.Parameters.Get("YamlFuzzCases", "20000"), System.Globalization.CultureInfo.InvariantCulture);
        var outcome = new YamlConfigFuzzer(seeds, rngSeed: 20261201).Run(cases);
        TestContext.Out.WriteLine(outcome.ToString());
        Assert.That(outcome.Crashes, Is.Empty, string.Join("\n\n", outcome.Crashes.Take(3)));
        Assert.That(outcome.Loaded, Is.GreaterThan(cases / 50), "some mutations stay valid configs");
        Assert.That(outcome.Refused, Is.GreaterThan(cases / 2), "most reach the error paths");
    }
}
