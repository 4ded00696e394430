using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Tests.Interop;
using FlanT5.Poplar.Tests.Packaging;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// <c>flant5 evaluate</c> across two real processes under <c>mpirun -np 2</c>: the instances share the examples and
/// gather the answers, so the results are those of one process, written once; and when one instance dies, stops or
/// fails, every instance ends non-zero within a bound instead of waiting for it.
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public class MpirunEvaluateTests
{
    private static readonly string[] TwoInstances =
        ["--set", "execution.data_parallel=2", "--set", "execution.micro_batch_size=16", "--set", "execution.instances=2"];

    // flan-t5-tiny fine-tuned on the synthetic train split: its answers are label words, mismatched is 49.07 %.
    private static string FineTuned => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "flan-t5-tiny-mnli");

    // The untrained tiny model never emits EOS, so 4 beams of 30 tokens keep an instance busy for seconds: long enough
    // to kill or stop it mid-split.
    private static readonly string[] SlowSplit =
        ["evaluate", "--split", "validation_matched", "--num-beams", "4", "--max-new-tokens", "30", .. TwoInstances];

    // Far above a normal run (about 4 s here), far below a hang; a stuck launch is killed at it and fails.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    // 593 examples per split: in batches of 64, 5 batches each (320 and 273 examples); of 48, 6 and 7 (288 and 305).
    [TestCase(64)]
    [TestCase(48)]
    public void TwoInstancesGiveTheOneProcessResultsWrittenOnce(int batchSize)
    {
        using var dir = new TempDirectory();
        var onePath = Path.Combine(dir.Path, "one", "eval.json");
        var twoDir = Path.Combine(dir.Path, "two");
        string[] batches = ["--set", $"inference.batch_size={batchSize}"];
        var one = ChildProcess.Run(ChildProcess.Dotnet, [ChildCli.CliDll, "evaluate", "--model", FineTuned, "-o", onePath, .. batches],
            TestContext.CurrentContext.TestDirectory, new Dictionary<string, string>(), Limit);
        Assert.That(one.ExitCode, Is.Zero, one.Describe("flant5 evaluate"));

        var two = Mpirun.Run(["-np", "2", .. Mpirun.Flant5(["evaluate", "--model", FineTuned, "-o", Path.Combine(twoDir, "eval.json"),
            .. batches, .. TwoInstances])], Limit);
        Assert.That(two.ExitCode, Is.Zero, two.Describe("mpirun -np 2 flant5 evaluate"));

        var expected = File.ReadAllText(onePath);
        var results = System.Text.Json.JsonDocument.Parse(expected).RootElement.EnumerateArray()
            .Select(e => EvaluationResult.FromJson(e.GetRawText())).ToList();
        Assert.Multiple(() =>
        {
            // Same counts, confusion matrices and per-example predictions in example order: the same bytes.
            Assert.That(File.ReadAllText(Path.Combine(twoDir, "eval.json")), Is.EqualTo(expected));
            Assert.That(Directory.GetFiles(twoDir).Select(Path.GetFileName), Is.EqualTo(new[] { "eval.json" }));
            // Instance 0 alone prints the results.
            Assert.That(Occurrences(two.Output, "validation_mismatched: accuracy 49.07 % (291/593), unknown 0"), Is.EqualTo(1), two.Output);
            Assert.That(Occurrences(two.Output, "validation_matched: accuracy 100.00 % (593/593), unknown 0"), Is.EqualTo(1), two.Output);
            // A split whose answers differ between examples, so the order of the gathered answers is checked.
            Assert.That(results.Select(r => r.Predictions.Count), Is.EqualTo(new[] { 593, 593 }));
            Assert.That(results[1].Predictions.Distinct().Count(), Is.EqualTo(3));
        });
    }

    [Test]
    public void KillingOneInstanceEndsBoth()
    {
        using var dir = new TempDirectory();
        var report = Path.Combine(dir.Path, "eval.json");
        // Instance 1 is killed 3 s in, while both are generating.
        var result = Mpirun.Run(["-np", "1", .. Mpirun.Flant5([.. SlowSplit, "-o", report]), ":",
            "-np", "1", "timeout", "-s", "KILL", "3", .. Mpirun.Flant5([.. SlowSplit, "-o", report])], Limit);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Not.Zero, result.Describe("mpirun with a killed instance"));
            Assert.That(result.Error + result.Output, Does.Contain("rank 1").And.Contain("signal 9"), result.Describe("mpirun"));
            Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), result.Describe("mpirun"));
            // Nothing written, not even a temporary file.
            Assert.That(Directory.GetFileSystemEntries(dir.Path), Is.Empty);
        });
    }

    [Test]
    public void AStoppedInstanceTimesOutTheOtherAndEndsBoth()
    {
        using var dir = new TempDirectory();
        var report = Path.Combine(dir.Path, "eval.json");
        string[] args = [.. SlowSplit, "-o", report, "--instance-timeout", "3"];
        // Instance 1 is stopped (SIGSTOP) 3 s in: alive, but it never reaches the gather instance 0 waits at.
        var stopped = string.Join(' ', Mpirun.Flant5(args).Select(a => $"'{a}'")) + " & p=$!; sleep 3; kill -STOP $p; wait $p";
        var result = Mpirun.Run(["-np", "1", .. Mpirun.Flant5(args), ":", "-np", "1", "sh", "-c", stopped], Limit);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.Describe("mpirun with a stopped instance"));
            Assert.That(result.Error, Does.Contain("instance 0 of 2 failed; stopping every instance")
                .And.Contain("error: instance 0 of 2: not every instance reached the gather within 3 s"), result.Describe("mpirun"));
            Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(40)), result.Describe("mpirun"));
            Assert.That(Directory.GetFileSystemEntries(dir.Path), Is.Empty);
        });
    }

    [Test]
    public void AFailingInstanceEndsTheOthersWithItsError()
    {
        using var dir = new TempDirectory();
        // Instance 0 alone writes the report; it cannot (the parent is a file), while instance 1 goes on to its gather.
        var parent = Path.Combine(dir.Path, "a-file");
        File.WriteAllText(parent, "");
        var result = Mpirun.Run(["-np", "2", .. Mpirun.Flant5(["evaluate", "--model", FineTuned, "-o", Path.Combine(parent, "eval.json"),
            .. TwoInstances])], Limit);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.Describe("mpirun with a failing instance"));
            Assert.That(result.Error, Does.Contain("instance 0 of 2 failed; stopping every instance")
                .And.Contain($"error: cannot write {Path.Combine(parent, "eval.json")}"), result.Describe("mpirun"));
        });
    }

    private static int Occurrences(string text, string line) => text.Split('\n').Count(l => l.TrimEnd('\r').EndsWith(line, StringComparison.Ordinal));
}
