using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Commands;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class ConvertCommandTests
{
    private static int Convert(params string[] args) => new RootCommand { ConvertCommand.Create() }.Parse(["convert", .. args]).Invoke();

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
    public void BadArgumentsFailWithAMessageNotACrash()
    {
        var dir = CheckpointTestFiles.NewTempDirectory();
        try
        {
            Assert.That(Convert("--model", CheckpointTestFiles.FlanT5Tiny, "--output", dir, "--dtype", "int8"), Is.EqualTo(1));
            Assert.That(Convert("--model", CheckpointTestFiles.FlanT5Tiny, "--output", dir, "--max-shard-size", "lots"), Is.EqualTo(1));
            Assert.That(Convert("--model", Path.Combine(dir, "nowhere"), "--output", dir), Is.EqualTo(1));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
