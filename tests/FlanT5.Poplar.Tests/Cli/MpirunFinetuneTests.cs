using System.Text.Json;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Tests.Interop;
using FlanT5.Poplar.Tests.Packaging;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// <c>flant5 finetune</c> across two real processes under <c>mpirun -np 2</c>, each training its own data-parallel
/// replicas of one builder session (gradients reduced over MPI by the emulated engine), against the same plan in one
/// process: the same losses, gradient norms, final weights and accuracies, and one set of outputs, written by
/// instance 0.
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public class MpirunFinetuneTests
{
    // Far above a run here (about 10 s), far below a hang; a stuck launch is killed at it and fails.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    // The two runs do the same float32 operations in the same order: each replica runs a program of the same shape
    // (its own rows), OpenBLAS runs the thread count execution.threads sets in both (not the cores mpirun binds an
    // instance to: the kernels order a row's products by how the threads split the matmul), and the emulated
    // collectives reduce in one fixed order. Measured: losses, gradient norms and weights bit-identical at dp 2 and
    // tp 2 x dp 2, so nothing else is allowed. A replica fed another replica's rows moves the first loss by 1e-2.
    private const double LossBound = 0, GradNormBound = 0, WeightBound = 0;

    [TestCase(1, 1, 16, false)]
    [TestCase(2, 1, 16, false)]
    [TestCase(1, 2, 8, false, TestName = "TwoInstancesTrainAsOneProcessDrivingBothReplicas(two pipeline stages, 2 micro-batches a step)")]
    [TestCase(1, 1, 16, true, TestName = "TwoInstancesTrainAsOneProcessDrivingBothReplicas(phased execution, recomputation)")]
    public void TwoInstancesTrainAsOneProcessDrivingBothReplicas(int tensorParallel, int pipelineStages, int microBatch, bool phased)
    {
        using var dir = new TempDirectory();
        string[] plan =
        [
            "--set", "training.steps=12", "--set", "execution.data_parallel=2", "--set", $"execution.micro_batch_size={microBatch}",
            "--set", $"execution.tensor_parallel={tensorParallel}", "--set", $"execution.pipeline_stages={pipelineStages}",
            "--set", "execution.threads=1",
            .. (phased ? new[] { "--set", "execution.weights_location=streaming", "--set", "execution.optimizer_location=streaming",
                "--set", "execution.recompute=true" } : []),
        ];
        var oneDir = Path.Combine(dir.Path, "one");
        var twoDir = Path.Combine(dir.Path, "two");
        var one = ChildProcess.Run(ChildProcess.Dotnet, [ChildCli.CliDll, "finetune", .. plan, "--set", $"output.run_dir={oneDir}"],
            TestContext.CurrentContext.TestDirectory, new Dictionary<string, string>(), Limit);
        Assert.That(one.ExitCode, Is.Zero, one.Describe("flant5 finetune"));
        var two = Mpirun.Run(["-np", "2", .. Mpirun.Flant5(["finetune", .. plan, "--set", "execution.instances=2",
            "--set", $"output.run_dir={twoDir}"])], Limit);
        Assert.That(two.ExitCode, Is.Zero, two.Describe("mpirun -np 2 flant5 finetune"));

        var (oneSteps, twoSteps) = (Steps(oneDir), Steps(twoDir));
        Assert.That(twoSteps, Has.Count.EqualTo(12));
        Assert.That(oneSteps, Has.Count.EqualTo(12));
        double worstLoss = 0, worstNorm = 0;
        for (int s = 0; s < 12; s++)
        {
            worstLoss = Math.Max(worstLoss, Math.Abs(twoSteps[s].Loss - oneSteps[s].Loss) / Math.Abs(oneSteps[s].Loss));
            worstNorm = Math.Max(worstNorm, Math.Abs(twoSteps[s].GradNorm - oneSteps[s].GradNorm) / oneSteps[s].GradNorm);
        }
        double worstWeight = WorstWeightDifference(Path.Combine(oneDir, "hf-checkpoint"), Path.Combine(twoDir, "hf-checkpoint"));
        TestContext.Out.WriteLine($"tp {tensorParallel} x pp {pipelineStages} x dp 2{(phased ? ", phased" : "")}: loss {worstLoss:E2}, gradient norm {worstNorm:E2}, weights {worstWeight:E2}");
        Assert.Multiple(() =>
        {
            Assert.That(worstLoss, Is.LessThanOrEqualTo(LossBound));
            Assert.That(worstNorm, Is.LessThanOrEqualTo(GradNormBound));
            Assert.That(worstWeight, Is.LessThanOrEqualTo(WeightBound));
            // Evaluation: the same answers to every example (each instance generated its share of each split).
            foreach (var split in new[] { "validation_matched", "validation_mismatched" })
                Assert.That(Predictions(twoDir, split), Is.EqualTo(Predictions(oneDir, split)), split);
            // One set of outputs: what one process writes, and the launch in the summary.
            Assert.That(Entries(twoDir), Is.EqualTo(Entries(oneDir)));
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(twoDir, "summary.json")));
            var launch = summary.RootElement.GetProperty("launch");
            Assert.That(launch.GetProperty("launcher").GetString(), Is.EqualTo("mpirun"));
            Assert.That(launch.GetProperty("instances").GetInt32(), Is.EqualTo(2));
            Assert.That(launch.GetProperty("replicas_per_instance").GetInt32(), Is.EqualTo(1));
            Assert.That(Occurrences(two.Output, "accuracy validation_matched:"), Is.EqualTo(1), "instance 0 alone prints");
        });
    }

    [Test]
    public void KillingOneInstanceEndsBothAndTheLastCheckpointResumesInOneProcess()
    {
        using var dir = new TempDirectory();
        var runDir = Path.Combine(dir.Path, "run");
        string[] run =
        [
            "finetune", "--no-eval", "--set", "training.steps=2000", "--set", "checkpoint.every=5", "--set", "execution.data_parallel=2",
            "--set", "execution.micro_batch_size=16", "--set", "execution.threads=1", "--set", $"output.run_dir={runDir}",
        ];
        // Instance 1 is killed once the first checkpoint (step 5) is complete: it records its pid, then becomes flant5.
        var pidFile = Path.Combine(dir.Path, "instance1.pid");
        string[] flant5 = Mpirun.Flant5([.. run, "--set", "execution.instances=2"]);
        var recordsPid = $"echo $$ > {Mpirun.Quote(pidFile)}; exec " + string.Join(" ", flant5.Select(Mpirun.Quote));
        var first = Path.Combine(runDir, "checkpoints", "checkpoint-00000005");
        var result = Mpirun.RunUntil(["-np", "1", .. flant5, ":", "-np", "1", "/bin/sh", "-c", recordsPid],
            $"[ -d {Mpirun.Quote(first)} ]", $"kill -KILL $(cat {Mpirun.Quote(pidFile)})", Limit);
        Assert.That(result.ExitCode, Is.Not.Zero, result.Describe("mpirun with a killed instance"));
        Assert.That(result.Error + result.Output, Does.Contain("rank 1").And.Contain("signal 9"), result.Describe("mpirun"));
        Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), result.Describe("mpirun"));

        var checkpoints = new TrainingCheckpointStore(Path.Combine(runDir, "checkpoints"));
        int saved;
        using (var latest = checkpoints.LoadLatest())
        {
            Assert.That(latest, Is.Not.Null, "no complete checkpoint before the kill: " + result.Describe("mpirun"));
            saved = (int)latest!.Step;
        }
        // The same run continues as one process driving both replicas.
        var resumed = ChildProcess.Run(ChildProcess.Dotnet, [ChildCli.CliDll, .. run, "--resume", "--set", $"training.steps={saved + 2}"],
            TestContext.CurrentContext.TestDirectory, new Dictionary<string, string>(), Limit);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.Describe("flant5 finetune --resume"));
        Assert.That(resumed.Output, Does.Contain($"resumed at step {saved} from"));
        Assert.That(Steps(runDir), Has.Count.EqualTo(saved + 2));
    }

    [Test]
    public void CtrlCInOneInstanceStopsEveryInstanceAfterTheSameStepSavesItAndBothResume()
    {
        using var dir = new TempDirectory();
        var runDir = Path.Combine(dir.Path, "run");
        string[] run =
        [
            "finetune", "--no-eval", "--set", "training.steps=5000", "--set", "checkpoint.every=5", "--set", "execution.data_parallel=2",
            "--set", "execution.micro_batch_size=16", "--set", "execution.threads=1", "--set", "execution.instances=2",
            "--set", $"output.run_dir={runDir}",
        ];
        // Ctrl-C in instance 1 alone (SIGINT to its process; it records its pid, then becomes flant5), once the first
        // checkpoint is written: instance 0 learns of it at the next step boundary.
        var pidFile = Path.Combine(dir.Path, "instance1.pid");
        string[] flant5 = Mpirun.Flant5(run);
        var recordsPid = $"echo $$ > {Mpirun.Quote(pidFile)}; exec " + string.Join(" ", flant5.Select(Mpirun.Quote));
        var checkpoints = Mpirun.Quote(Path.Combine(runDir, "checkpoints"));
        var result = Mpirun.RunUntil(["-np", "1", .. flant5, ":", "-np", "1", "/bin/sh", "-c", recordsPid],
            $"ls {checkpoints} 2>/dev/null | grep -q checkpoint-", $"kill -INT $(cat {Mpirun.Quote(pidFile)})", Limit);
        Assert.That(result.ExitCode, Is.Not.Zero, result.Describe("mpirun, interrupted"));
        var steps = Steps(runDir).Count;
        long saved;
        using (var latest = new TrainingCheckpointStore(Path.Combine(runDir, "checkpoints")).LoadLatest())
            saved = latest?.Step ?? -1;
        Assert.Multiple(() =>
        {
            Assert.That(saved, Is.EqualTo(steps), "the step every instance stopped after is saved: " + result.Describe("mpirun"));
            Assert.That(Occurrences(result.Output, $"interrupted at step {steps}"), Is.EqualTo(1), result.Describe("mpirun"));
            Assert.That(steps, Is.GreaterThanOrEqualTo(5).And.LessThan(5000));
        });
        // Both instances continue from that checkpoint.
        var resumed = Mpirun.Run(["-np", "2", .. Mpirun.Flant5([.. run, "--resume", "--set", $"training.steps={steps + 2}"])], Limit);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.Describe("mpirun -np 2 flant5 finetune --resume"));
        Assert.That(Occurrences(resumed.Output, $"resumed at step {steps} from"), Is.EqualTo(1), resumed.Describe("mpirun --resume"));
        Assert.That(Steps(runDir), Has.Count.EqualTo(steps + 2));
    }

    private sealed record Step(double Loss, double GradNorm);

    private static List<Step> Steps(string runDir) =>
        File.ReadLines(Path.Combine(runDir, "metrics.jsonl")).Select(line =>
        {
            using var record = JsonDocument.Parse(line);
            return new Step(record.RootElement.GetProperty("loss").GetDouble(), record.RootElement.GetProperty("grad_norm").GetDouble());
        }).ToList();

    // The largest ||a - b|| / ||a|| over the exported tensors.
    private static double WorstWeightDifference(string a, string b)
    {
        using var one = HfCheckpointLoader.Open(a);
        using var two = HfCheckpointLoader.Open(b);
        double worst = 0;
        foreach (var t in one.Tensors)
        {
            var x = new float[t.ElementCount];
            var y = new float[t.ElementCount];
            one.ReadTensor(t.Name, x);
            two.ReadTensor(t.Name, y);
            double diff = 0, norm = 0;
            for (int i = 0; i < x.Length; i++)
            {
                diff += (double)(x[i] - y[i]) * (x[i] - y[i]);
                norm += (double)x[i] * x[i];
            }
            worst = Math.Max(worst, Math.Sqrt(diff / Math.Max(norm, 1e-30)));
        }
        return worst;
    }

    private static List<string> Predictions(string runDir, string split)
    {
        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, $"eval_{split}.json")));
        return result.RootElement.GetProperty("predictions").EnumerateArray().Select(p => p.GetRawText()).ToList();
    }

    private static List<string> Entries(string runDir) =>
        Directory.EnumerateFileSystemEntries(runDir, "*", SearchOption.AllDirectories)
            .Select(e => Path.GetRelativePath(runDir, e)).Where(e => !e.EndsWith(".lock", StringComparison.Ordinal)).Order().ToList();

    private static int Occurrences(string text, string what) => text.Split(what).Length - 1;
}
