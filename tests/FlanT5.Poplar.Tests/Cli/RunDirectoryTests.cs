using System.Security.Cryptography;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// A run directory holds one run: a new run refuses an earlier one's directory unless told to replace it, the default
/// gives each run its own folder, --resume continues only a run of the same config and only forward, and what a run
/// writes there replaces links planted in it instead of writing through them.
/// </summary>
public sealed class RunDirectoryTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-run-dir-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static CliRunner.Result Finetune(string runDir, int steps, params string[] extra) =>
        CliRunner.Run(["finetune", "--no-eval", "--set", $"training.steps={steps}", "--set", $"output.run_dir={runDir}", .. extra]);

    private static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != ".flant5.lock")
            .ToDictionary(f => Path.GetRelativePath(directory, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Test]
    public void ANewRunInADirectoryThatHoldsARunIsRefusedAndChangesNothing()
    {
        var runDir = Path.Combine(_dir, "run");
        var first = Finetune(runDir, 3);
        Assert.That(first.ExitCode, Is.Zero, first.Output + first.Error);
        var before = Snapshot(runDir);

        var second = Finetune(runDir, 2);

        Assert.That(second.ExitCode, Is.EqualTo(2), second.Output + second.Error);
        Assert.That(second.Error, Does.Contain("already holds a run").And.Contain("--resume").And.Contain("--overwrite"));
        Assert.That(Snapshot(runDir), Is.EqualTo(before), "the earlier run's files, byte for byte");
    }

    [Test]
    public void OverwriteReplacesTheEarlierRunWholeAndRefusesFilesARunDoesNotWrite()
    {
        var runDir = Path.Combine(_dir, "run");
        Assert.That(Finetune(runDir, 3).ExitCode, Is.Zero);
        File.WriteAllText(Path.Combine(runDir, "eval_validation_matched.json"), "{}"); // an earlier run's evaluation

        var replaced = Finetune(runDir, 2, "--overwrite");

        Assert.That(replaced.ExitCode, Is.Zero, replaced.Output + replaced.Error);
        Assert.That(Directory.GetDirectories(Path.Combine(runDir, "checkpoints")).Select(Path.GetFileName),
            Is.EqualTo(new[] { "checkpoint-00000002" }), "the earlier run's checkpoint-00000003 is gone, so --resume cannot pick it");
        Assert.That(File.Exists(Path.Combine(runDir, "eval_validation_matched.json")), Is.False);
        Assert.That(File.ReadAllLines(Path.Combine(runDir, "metrics.csv")), Has.Length.EqualTo(3));

        File.WriteAllText(Path.Combine(runDir, "my-notes.txt"), "mine");
        var refused = Finetune(runDir, 2, "--overwrite");
        Assert.That(refused.ExitCode, Is.EqualTo(2));
        Assert.That(refused.Error, Does.Contain("my-notes.txt").And.Contain("refusing to delete"));
        Assert.That(File.ReadAllText(Path.Combine(runDir, "my-notes.txt")), Is.EqualTo("mine"));
        Assert.That(Directory.Exists(Path.Combine(runDir, "checkpoints", "checkpoint-00000002")), "nothing was removed");
    }

    [Test]
    public void ATimestampedRunDirectoryGivesEachRunItsOwnFolderAndResumeContinuesTheNewest()
    {
        var template = Path.Combine(_dir, "runs", "{timestamp}");
        var first = Finetune(template, 2);
        var second = Finetune(template, 2);
        Assert.That(first.ExitCode, Is.Zero, first.Output + first.Error);
        Assert.That(second.ExitCode, Is.Zero, second.Output + second.Error);
        var runs = Directory.GetDirectories(Path.Combine(_dir, "runs")).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToList();
        Assert.That(runs, Has.Count.EqualTo(2), "two runs, two folders");
        Assert.That(runs, Has.All.Match(@"^\d{8}-\d{6}(-\d+)?$"));

        var resumed = Finetune(template, 4, "--resume");

        Assert.That(resumed.ExitCode, Is.Zero, resumed.Output + resumed.Error);
        var newest = runs.OrderBy(r => r.Length).ThenBy(r => r, StringComparer.Ordinal).Last();
        Assert.That(resumed.Output, Does.Contain($"resumed at step 2 from {Path.Combine(_dir, "runs", newest, "checkpoints")}"));
        Assert.That(Directory.GetDirectories(Path.Combine(_dir, "runs")), Has.Length.EqualTo(2));
    }

    [Test]
    public void ResumeRefusesACheckpointOfAnotherConfigListingEveryDifferenceUnlessForced()
    {
        var runDir = Path.Combine(_dir, "run");
        Assert.That(Finetune(runDir, 2).ExitCode, Is.Zero);

        var refused = Finetune(runDir, 4, "--resume", "--set", "training.global_batch_size=16", "--set", "execution.micro_batch_size=16",
            "--set", "training.learning_rate.maximum=0.01", "--set", "data.shuffle_seed=3");

        Assert.That(refused.ExitCode, Is.EqualTo(2), refused.Output + refused.Error);
        Assert.That(refused.Error, Does.Contain("training.global_batch_size: checkpoint 32, this run 16")
            .And.Contain("execution.micro_batch_size: checkpoint 32, this run 16")
            .And.Contain("training.learning_rate.maximum: checkpoint 0.001, this run 0.01")
            .And.Contain("data.shuffle_seed: checkpoint 7, this run 3")
            .And.Contain("--force-resume"));
        Assert.That(File.ReadAllLines(Path.Combine(runDir, "metrics.csv")), Has.Length.EqualTo(3), "nothing was written");

        var forced = Finetune(runDir, 4, "--resume", "--force-resume", "--set", "training.learning_rate.maximum=0.01");
        Assert.That(forced.ExitCode, Is.Zero, forced.Output + forced.Error);
        Assert.That(forced.Output, Does.Contain("warning: --force-resume despite training.learning_rate.maximum"));
    }

    [Test]
    public void ResumingWithStepsNotPastTheCheckpointIsAnError()
    {
        var runDir = Path.Combine(_dir, "run");
        Assert.That(Finetune(runDir, 4).ExitCode, Is.Zero);

        var fewer = Finetune(runDir, 3, "--resume");
        Assert.That(fewer.ExitCode, Is.EqualTo(2), fewer.Output + fewer.Error);
        Assert.That(fewer.Error, Does.Contain("training.steps is 3").And.Contain("at step 4"));
        Assert.That(fewer.Output, Does.Not.Contain("steps 4/3"));

        var same = Finetune(runDir, 4, "--resume");
        Assert.That(same.ExitCode, Is.EqualTo(2));
        Assert.That(same.Error, Does.Contain("the run is complete").And.Contain("convert --training-checkpoint"));
    }

    [Test]
    public void MetricsOfARunKilledAfterItsLastCheckpointAreCutToTheResumedStep()
    {
        // A run that saved at step 2 and was killed at step 3 of 4: its metrics reach step 3 (the killed process
        // wrote them), its latest checkpoint is step 2.
        var runDir = Path.Combine(_dir, "run");
        Assert.That(Finetune(runDir, 4, "--set", "checkpoint.every=2").ExitCode, Is.Zero);
        Directory.Delete(Path.Combine(runDir, "checkpoints", "checkpoint-00000004"), recursive: true);
        var csv = File.ReadAllLines(Path.Combine(runDir, "metrics.csv"));
        File.WriteAllLines(Path.Combine(runDir, "metrics.csv"), csv[..^1]);
        var jsonl = File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl"));
        File.WriteAllLines(Path.Combine(runDir, "metrics.jsonl"), jsonl[..^1].Append(jsonl[^1][..20])); // a torn last line

        var resumed = Finetune(runDir, 4, "--resume", "--set", "checkpoint.every=2");

        Assert.That(resumed.ExitCode, Is.Zero, resumed.Output + resumed.Error);
        var steps = File.ReadAllLines(Path.Combine(runDir, "metrics.csv")).Skip(1).Select(l => int.Parse(l.Split(',')[0])).ToList();
        Assert.That(steps, Is.EqualTo(new[] { 1, 2, 3, 4 }), "each step once");
        var jsonSteps = File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl"))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToList();
        Assert.That(jsonSteps, Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(resumed.Output, Does.Contain("dropped 2 record(s)"));
    }

    [Test]
    public void RunOutputsAndReportsReplaceLinksPlantedInTheirPlaceInsteadOfWritingThroughThem()
    {
        var runDir = Path.Combine(_dir, "run");
        Assert.That(Finetune(runDir, 2).ExitCode, Is.Zero);
        var victims = Path.Combine(_dir, "victims");
        Directory.CreateDirectory(victims);
        string[] names = ["metrics.jsonl", "metrics.csv", "summary.json", "config.yaml", "loss.png"];
        foreach (var name in names)
        {
            File.WriteAllText(Path.Combine(victims, name), "victim");
            File.Delete(Path.Combine(runDir, name));
            File.CreateSymbolicLink(Path.Combine(runDir, name), Path.Combine(victims, name));
        }

        var resumed = Finetune(runDir, 3, "--resume");
        Assert.That(resumed.ExitCode, Is.Zero, resumed.Output + resumed.Error);

        var report = Path.Combine(_dir, "report.json");
        File.WriteAllText(Path.Combine(victims, "report.json"), "victim");
        File.CreateSymbolicLink(report, Path.Combine(victims, "report.json"));
        var model = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "flan-t5-tiny-mnli");
        var evaluated = CliRunner.Run("evaluate", "--model", model, "--split", "validation_matched", "-o", report,
            "--set", $"data.eval.validation_matched={Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "synthetic-mnli", "glue", "dev_matched.tsv")}");
        Assert.That(evaluated.ExitCode, Is.Zero, evaluated.Output + evaluated.Error);

        foreach (var name in names.Append("report.json"))
            Assert.That(File.ReadAllText(Path.Combine(victims, name)), Is.EqualTo("victim"), $"{name} was written through the link");
        foreach (var name in names)
            Assert.That(new FileInfo(Path.Combine(runDir, name)).LinkTarget, Is.Null, $"{name} is the run's own file now");
        Assert.That(new FileInfo(report).LinkTarget, Is.Null);
        Assert.That(File.ReadAllText(report), Does.Contain("validation_matched"));
    }
}
