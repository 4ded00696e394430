using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class ConvertCommandTests
{
    private static int Convert(params string[] args) =>
        CliApplication.RunAsync(["convert", .. args], [ConvertCommand.Create()], TextWriter.Null, TextWriter.Null, CancellationToken.None)
            .GetAwaiter().GetResult();

    [TestCase("flan-t5-tiny")]
    [TestCase("hf-t5-tiny")]
    [TestCase("hf-t5-tiny", "--tensor-parallel", "2", "--pipeline-stages", "2")]
    [TestCase("flan-t5-tiny", "--tensor-parallel", "2", "--weights-location", "streaming")]
    public void Fp32ThroughTheDeviceAndBackIsBitExact(string fixture, params string[] placement)
    {
        var dir = CheckpointTestFiles.NewTempDirectory();
        try
        {
            var source = CheckpointTestFiles.Fixture(fixture);
            Assert.That(Convert(["--model", source, "--output", dir, .. placement]), Is.Zero);
            var before = CheckpointTestFiles.ReadAll(Path.Combine(source, "model.safetensors"));
            var after = CheckpointTestFiles.ReadAll(Path.Combine(dir, "model.safetensors"));
            Assert.That(after.Keys.Order(), Is.EqualTo(before.Keys.Order()));
            foreach (var (name, (shape, data)) in before)
            {
                Assert.That(after[name].Shape, Is.EqualTo(shape), name);
                Assert.That(CheckpointTestFiles.BitEqual(after[name].Data, data), name);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ConvertsToShardedBf16AndBack()
    {
        var dir = CheckpointTestFiles.NewTempDirectory();
        try
        {
            var bf16 = Path.Combine(dir, "bf16");
            Assert.That(Convert("--model", CheckpointTestFiles.HfT5Tiny, "--output", bf16, "--dtype", "bf16", "--max-shard-size", "300KB"), Is.Zero);
            Assert.That(File.Exists(Path.Combine(bf16, SafetensorsIndex.FileName)));
            Assert.That(File.Exists(Path.Combine(bf16, "spiece.model")));
            var fp32 = Path.Combine(dir, "fp32");
            Assert.That(Convert("--model", bf16, "--output", fp32), Is.Zero);
            using var back = HfCheckpointLoader.Open(fp32);
            Assert.That(back.Layout, Is.EqualTo(EmbeddingLayout.Separate));
            Assert.That(back.Files.Info("lm_head.weight").DType, Is.EqualTo(SafetensorsDType.F32));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ExportsATrainingCheckpointsWeightsWithTheTokenizerOfTheRunsModel()
    {
        var dir = CheckpointTestFiles.NewTempDirectory();
        try
        {
            // A training checkpoint of the tiny fixture's weights, saved by a run that started from the fixture.
            using var hf = HfCheckpointLoader.Open(CheckpointTestFiles.HfT5Tiny);
            var weights = HostTensorSet.ReadAll(hf);
            var run = RunConfig.Default with { Model = RunConfig.Default.Model with { Checkpoint = CheckpointTestFiles.HfT5Tiny } };
            var saved = new TrainingCheckpointStore(Path.Combine(dir, "checkpoints")).Save(new TrainingState
            {
                Step = 3, Config = hf.Config, Layout = hf.Layout, Weights = weights, AdamFirstMoment = weights, AdamSecondMoment = weights,
                RunConfig = RunConfigWriter.ToJson(run, includeDerived: false),
            });
            var output = Path.Combine(dir, "hf");
            Assert.That(Convert("--training-checkpoint", saved, "--output", output, "--tensor-parallel", "2"), Is.Zero);

            var before = CheckpointTestFiles.ReadAll(Path.Combine(CheckpointTestFiles.HfT5Tiny, "model.safetensors"));
            var after = CheckpointTestFiles.ReadAll(Path.Combine(output, "model.safetensors"));
            Assert.That(after.Keys.Order(), Is.EqualTo(before.Keys.Order()));
            foreach (var (name, (_, data)) in before) Assert.That(CheckpointTestFiles.BitEqual(after[name].Data, data), name);
            Assert.That(File.Exists(Path.Combine(output, "spiece.model")), "tokenizer files come from the run's starting checkpoint");
            using var back = HfCheckpointLoader.Open(output);
            Assert.That(back.Layout, Is.EqualTo(hf.Layout));

            Assert.That(Convert("--output", output), Is.EqualTo(ExitCodes.UserError), "neither --model nor --training-checkpoint");
            Assert.That(Convert("--training-checkpoint", Path.Combine(dir, "nowhere"), "--output", output), Is.EqualTo(ExitCodes.UserError));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void BadArgumentsFailWithAMessageNotACrash()
    {
        var dir = CheckpointTestFiles.NewTempDirectory();
        try
        {
            Assert.That(Convert("--model", CheckpointTestFiles.FlanT5Tiny, "--output", dir, "--dtype", "int8"), Is.EqualTo(ExitCodes.UserError));
            Assert.That(Convert("--model", CheckpointTestFiles.FlanT5Tiny, "--output", dir, "--max-shard-size", "lots"), Is.EqualTo(ExitCodes.UserError));
            Assert.That(Convert("--model", Path.Combine(dir, "nowhere"), "--output", dir), Is.EqualTo(ExitCodes.UserError));
            Assert.That(Convert("--model", CheckpointTestFiles.FlanT5Tiny, "--output", dir, "--tensor-parallel", "0"), Is.EqualTo(ExitCodes.UserError));
            Assert.That(Convert("--model", CheckpointTestFiles.FlanT5Tiny, "--output", dir, "--weights-location", "disk"), Is.EqualTo(ExitCodes.UserError));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
