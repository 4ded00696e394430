using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class TrainingCheckpointStoreTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = CheckpointTestFiles.NewTempDirectory();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static TrainingState TinyState(long step)
    {
        using var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.FlanT5Tiny);
        var weights = HostTensorSet.ReadAll(checkpoint);
        var rng = new Random((int)step);
        HostTensorSet Moments(bool positive)
        {
            var set = new HostTensorSet();
            foreach (var t in weights.Tensors)
                set.Add(t.Name, new HostTensor(t.Shape, Enumerable.Range(0, (int)t.ElementCount)
                    .Select(_ => positive ? (float)rng.NextDouble() * 1e-6f : (float)(rng.NextDouble() - 0.5) * 1e-3f).ToArray()));
            return set;
        }
        return new TrainingState
        {
            Step = step,
            Config = checkpoint.Config,
            Layout = checkpoint.Layout,
            Weights = weights,
            AdamFirstMoment = Moments(false),
            AdamSecondMoment = Moments(true),
            SchedulePosition = step * 2,
            LossScale = 128,
            DataCursor = [1, 2, 3, (byte)step],
            RngState = [9, 8, 7],
            Plan = """{"tp":2}""",
            RunConfig = "steps: 500",
        };
    }

    private static void AssertSameTensors(ITensorSource expected, ITensorSource actual)
    {
        Assert.That(actual.Tensors.Select(t => t.Name), Is.EqualTo(expected.Tensors.Select(t => t.Name)));
        foreach (var t in expected.Tensors)
        {
            var a = new float[t.ElementCount];
            var b = new float[t.ElementCount];
            expected.ReadTensor(t.Name, a);
            actual.ReadTensor(t.Name, b);
            Assert.That(CheckpointTestFiles.BitEqual(a, b), t.Name);
        }
    }

    [Test]
    public void SaveThenLoadRestoresEverythingBitExact()
    {
        var store = new TrainingCheckpointStore(_dir);
        var state = TinyState(7);
        var path = store.Save(state);
        Assert.That(Path.GetFileName(path), Is.EqualTo("checkpoint-00000007"));
        using var loaded = store.LoadLatest()!;
        Assert.That(loaded.Step, Is.EqualTo(7));
        var back = loaded.ToState();
        Assert.That(back.SchedulePosition, Is.EqualTo(14));
        Assert.That(back.LossScale, Is.EqualTo(128));
        Assert.That(back.DataCursor, Is.EqualTo(state.DataCursor));
        Assert.That(back.RngState, Is.EqualTo(state.RngState));
        Assert.That(back.Plan, Is.EqualTo(state.Plan));
        Assert.That(back.RunConfig, Is.EqualTo(state.RunConfig));
        Assert.That(back.Layout, Is.EqualTo(EmbeddingLayout.Shared));
        Assert.That(back.Config with { ExtraFields = null }, Is.EqualTo(state.Config with { ExtraFields = null }));
        AssertSameTensors(state.Weights, back.Weights);
        AssertSameTensors(state.AdamFirstMoment, back.AdamFirstMoment);
        AssertSameTensors(state.AdamSecondMoment, back.AdamSecondMoment);
    }

    [Test]
    public void KeepsTheLastKAndSavingTheSameStepAgainReplacesIt()
    {
        var store = new TrainingCheckpointStore(_dir, keepLast: 2);
        Assert.That(store.LoadLatest(), Is.Null);
        var state = CheckpointWriteProbeCommand.SyntheticState(0, 1);
        foreach (var step in new long[] { 10, 20, 30, 40 }) store.Save(state with { Step = step });
        Assert.That(store.List().Select(e => e.Step), Is.EqualTo(new long[] { 30, 40 }));
        store.Save(state with { Step = 40, SchedulePosition = 99 });
        using (var latest = store.LoadLatest()!) Assert.That(latest.Manifest.SchedulePosition, Is.EqualTo(99));
        Assert.That(Directory.GetDirectories(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint-00000030", "checkpoint-00000040" }),
            "no temporary or trash folders remain");
    }

    [Test]
    public void CorruptedOrTruncatedCheckpointsAreDetected()
    {
        var store = new TrainingCheckpointStore(_dir);
        var path = store.Save(CheckpointWriteProbeCommand.SyntheticState(3, 1));
        string Error() => Assert.Throws<InvalidDataException>(() => store.LoadLatest()!.Dispose())!.Message;
        var weights = Path.Combine(path, "weights.safetensors");
        var original = File.ReadAllBytes(weights);

        var flipped = (byte[])original.Clone();
        flipped[^10] ^= 0x01; // inside the last tensor's data
        File.WriteAllBytes(weights, flipped);
        Assert.That(Error(), Does.Contain("weights.safetensors").And.Contain("tensor 't3' checksum mismatch"));

        File.WriteAllBytes(weights, original[..^100]);
        Assert.That(Error(), Does.Contain("weights.safetensors").And.Contain("truncated"));

        File.WriteAllBytes(weights, original);
        using (var ok = store.LoadLatest()!) Assert.That(ok.Step, Is.EqualTo(3));

        var manifest = Path.Combine(path, TrainingCheckpointManifest.FileName);
        var manifestBytes = File.ReadAllBytes(manifest);
        File.WriteAllBytes(manifest, manifestBytes[..^3]);
        Assert.That(Error(), Does.Contain("manifest checksum mismatch"));
        File.Delete(manifest);
        Assert.That(Error(), Does.Contain("not a complete checkpoint"));
        File.WriteAllBytes(manifest, manifestBytes);
        File.Delete(Path.Combine(path, "adam_v.safetensors"));
        Assert.That(Error(), Does.Contain("adam_v.safetensors: missing"));
    }

    [Test]
    public void ProcessKilledWhileSavingLeavesThePreviousCheckpointLoadable()
    {
        var store = new TrainingCheckpointStore(_dir, keepLast: 0);
        var first = CheckpointWriteProbeCommand.SyntheticState(1, 1);
        store.Save(first);

        var cli = Path.Combine(TestContext.CurrentContext.TestDirectory, "flant5.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { cli, "checkpoint-write-probe", "--dir", _dir, "--step", "2", "--megabytes", "48", "--pause-at", "wrote adam_m.safetensors t1" }) start.ArgumentList.Add(arg);
        using var child = Process.Start(start)!;
        string? line;
        var seen = new List<string>();
        while ((line = child.StandardOutput.ReadLine()) is not null)
        {
            seen.Add(line);
            if (line == "wrote adam_m.safetensors t1") break; // adam_m.safetensors is half written
        }
        if (line is null) Assert.Fail($"the probe ended before the pause point: {string.Join(" | ", seen)} {child.StandardError.ReadToEnd()}");
        child.Kill(entireProcessTree: true); // SIGKILL: no finally blocks, no cleanup
        child.WaitForExit();

        Assert.That(Directory.GetDirectories(_dir).Any(d => Path.GetFileName(d).StartsWith(".tmp-checkpoint-00000002", StringComparison.Ordinal)),
            $"the killed save left its temporary folder; found: {string.Join(", ", Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName))}; exit {child.ExitCode}");
        var temp = Directory.GetDirectories(_dir).Single(d => Path.GetFileName(d).StartsWith(".tmp-checkpoint-", StringComparison.Ordinal));
        Assert.That(new FileInfo(Path.Combine(temp, "adam_m.safetensors")).Length, Is.LessThan(new FileInfo(Path.Combine(temp, "weights.safetensors")).Length),
            "killed while adam_m.safetensors was being written");
        Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Open(temp).Dispose());
        Assert.That(store.List().Select(e => e.Step), Is.EqualTo(new long[] { 1 }), "a half-written save is never listed");
        using (var latest = store.LoadLatest()!)
        {
            Assert.That(latest.Step, Is.EqualTo(1));
            AssertSameTensors(first.Weights, latest.Weights);
        }

        // The next save clears the leftover.
        store.Save(first with { Step = 3 });
        Assert.That(Directory.GetDirectories(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint-00000001", "checkpoint-00000003" }));
    }

    [Test]
    public void MomentsThatDoNotMatchTheWeightsAreRefused()
    {
        var state = CheckpointWriteProbeCommand.SyntheticState(1, 1);
        var wrong = new HostTensorSet().Add("t0", HostTensor.Zeros([3]));
        Assert.That(Assert.Throws<ArgumentException>(() => new TrainingCheckpointStore(_dir).Save(state with { AdamSecondMoment = wrong }))!.Message,
            Does.Contain("AdamW v"));
        Assert.That(new TrainingCheckpointStore(_dir).List(), Is.Empty);
    }
}
