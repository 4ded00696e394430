using System.Diagnostics;
using System.Runtime.InteropServices;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// SIGINT and SIGTERM stop every command promptly with the conventional status (130, 143), in real child processes
/// of the built CLI: a command blocked reading stdin or a FIFO, an evaluation, and training — which finishes its step,
/// saves a checkpoint and holds its run directory against a second run until then.
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public sealed class SignalTests
{
    private static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-signal-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void TokenizeWaitingOnStdinStopsOnSigtermWith143()
    {
        using var child = ChildCli.Start(["tokenize", "--model", Fixture("flan-t5-tiny")]);
        Assert.That(child.WaitUntilBlockedReading(TimeSpan.FromSeconds(60)), "tokenize never waited on its stdin: " + child.Error);

        child.Signal(ChildCli.SigTerm);

        Assert.That(child.WaitForExit(Prompt), Is.EqualTo(ExitCodes.Terminated), child.Error);
    }

    [Test]
    public void GenerateReadingAFifoStopsOnSigtermWith143()
    {
        var fifo = Path.Combine(_dir, "prompts");
        Assert.That(Process.Start("mkfifo", [fifo])!.WaitForExitAsync().Wait(10_000), "mkfifo");
        // The writer end stays open and silent, so the reader waits forever.
        var writer = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write));
        using var child = ChildCli.Start(["generate", "--model", Fixture("flan-t5-tiny")], shellPrefix: $"exec < '{fifo}';");
        try
        {
            Assert.That(child.WaitUntilBlockedReading(TimeSpan.FromSeconds(60)), "generate never waited on the FIFO: " + child.Error);

            child.Signal(ChildCli.SigTerm);

            Assert.That(child.WaitForExit(Prompt), Is.EqualTo(ExitCodes.Terminated), child.Error);
        }
        finally
        {
            if (writer.Wait(5_000)) writer.Result.Dispose();
        }
    }

    [Test]
    public void EvaluateStopsOnCtrlCWith130InsteadOfRunningToTheEnd()
    {
        // An untrained model rarely says </s>, so 2000 new tokens per prompt keep it busy for minutes.
        using var child = ChildCli.Start(["evaluate", "--model", Fixture("flan-t5-tiny"), "--max-new-tokens", "2000",
            "--set", $"data.eval.validation_matched={Fixture("synthetic-mnli/glue/dev_matched.tsv")}",
            "--set", $"data.eval.validation_mismatched={Fixture("synthetic-mnli/glue/dev_mismatched.tsv")}"]);
        if (child.Ignores(ChildCli.SigInt))
            Assert.Inconclusive("this test process's children inherit SIGINT ignored (a background job), so Ctrl-C cannot reach them");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (child.CpuSeconds < 3 && DateTime.UtcNow < deadline) Thread.Sleep(100); // started up and evaluating

        child.Signal(ChildCli.SigInt);

        Assert.That(child.WaitForExit(Prompt), Is.EqualTo(ExitCodes.Interrupted), child.Output + child.Error);
        Assert.That(child.Output, Does.Not.Contain("accuracy"), "it stopped, it did not finish the evaluation");
    }

    [Test]
    public void TrainingLocksItsRunDirectoryAndOnSigtermFinishesTheStepSavesAndExits143()
    {
        var runDir = Path.Combine(_dir, "run");
        using var child = ChildCli.Start(["finetune", "--no-eval", "--set", "training.steps=100000", "--set", $"output.run_dir={runDir}"]);
        Assert.That(child.WaitForLine(l => l.StartsWith("step 1/", StringComparison.Ordinal), TimeSpan.FromSeconds(120)),
            "training did not start: " + child.Output + child.Error);

        // A second run on the same directory fails at once, naming the first one's PID.
        foreach (var mode in new[] { "--overwrite", "--resume" })
        {
            var second = CliRunner.Run("finetune", "--no-eval", mode, "--set", "training.steps=3", "--set", $"output.run_dir={runDir}");
            Assert.That(second.ExitCode, Is.EqualTo(ExitCodes.UserError), second.Output + second.Error);
            Assert.That(second.Error, Does.Contain($"pid {child.Id}").And.Contain("in use by another flant5 run"), mode);
        }

        child.Signal(ChildCli.SigTerm);

        Assert.That(child.WaitForExit(TimeSpan.FromSeconds(60)), Is.EqualTo(ExitCodes.Terminated), child.Output + child.Error);
        Assert.That(child.Error, Does.Contain("SIGTERM: stopping after the current step"));
        var stopped = child.Output.Split('\n').Single(l => l.StartsWith("interrupted at step ", StringComparison.Ordinal));
        int step = int.Parse(stopped["interrupted at step ".Length..].Split(':')[0]);
        Assert.That(Directory.Exists(Path.Combine(runDir, "checkpoints", $"checkpoint-{step:D8}")), $"saved at step {step}");

        var resumed = CliRunner.Run("finetune", "--no-eval", "--resume", "--set", $"training.steps={step + 1}", "--set", $"output.run_dir={runDir}");
        Assert.That(resumed.ExitCode, Is.Zero, resumed.Output + resumed.Error);
        Assert.That(resumed.Output, Does.Contain($"resumed at step {step}"));
    }

    [Test]
    public void TheFirstSignalStopsAtOnceOutsideTrainingAndASecondOneStopsTrainingAtOnce()
    {
        using var log = new StringWriter();
        using (var outside = new ShutdownSignal(log, listen: false))
        {
            Assert.That(outside.Handle(PosixSignal.SIGTERM), Is.False, "not cancelled: the default action ends the process");
            Assert.That(outside.Token.IsCancellationRequested, Is.False);
            Assert.That(outside.ExitCode, Is.EqualTo(143));
        }
        using var training = new ShutdownSignal(log, listen: false);
        using (training.FinishStepOnStop())
        {
            Assert.That(training.Handle(PosixSignal.SIGINT), Is.True, "the first one lets the step finish");
            Assert.That(training.Token.IsCancellationRequested, Is.True);
            Assert.That(training.Handle(PosixSignal.SIGTERM), Is.False, "the second one stops at once");
        }
        Assert.That(training.ExitCode, Is.EqualTo(130), "the status of the signal that stopped the run");
        Assert.That(log.ToString(), Does.Contain("send it again to stop at once"));
    }
}
