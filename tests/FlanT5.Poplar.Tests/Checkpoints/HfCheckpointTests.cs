using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class HfCheckpointTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = CheckpointTestFiles.NewTempDirectory();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void HubLayoutLoadsAsSharedAndExportsBitExact()
    {
        using var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.FlanT5Tiny);
        Assert.That(checkpoint.Layout, Is.EqualTo(EmbeddingLayout.Shared));
        Assert.That(checkpoint.ExportOnly, Is.Empty);
        Assert.That(checkpoint.Tensors.Select(t => t.Name), Does.Contain("shared.weight").And.Contain("lm_head.weight"));
        Assert.That(checkpoint.Config.VocabSize, Is.EqualTo(2176), "model vocab larger than the tokenizer's 2100");

        var output = Path.Combine(_dir, "out");
        var files = HfCheckpointExporter.Export(checkpoint, output, new HfExportOptions { TokenizerSource = checkpoint.Directory });
        Assert.That(files.Select(Path.GetFileName), Is.EqualTo(new[] { "model.safetensors" }));
        foreach (var name in new[] { "config.json", "generation_config.json", "spiece.model", "tokenizer.json", "tokenizer_config.json" })
            Assert.That(File.Exists(Path.Combine(output, name)), name);
        AssertSameTensors(CheckpointTestFiles.FlanT5Tiny, output);

        using var reloaded = HfCheckpointLoader.Open(output);
        Assert.That(reloaded.Layout, Is.EqualTo(EmbeddingLayout.Shared));
        Assert.That(reloaded.Config with { ExtraFields = null }, Is.EqualTo(checkpoint.Config with { ExtraFields = null }));
    }

    [Test]
    public void UntiedTransformers5SaveLoadsAsSeparateAndKeepsItsFourMatrices()
    {
        using var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.HfT5Tiny);
        Assert.That(checkpoint.Layout, Is.EqualTo(EmbeddingLayout.Separate));
        Assert.That(checkpoint.ExportOnly, Is.EqualTo(new[] { "shared.weight" }));
        Assert.That(checkpoint.Map.TryGet("shared.weight", out _), Is.False, "no shared.weight in a SEPARATE session");
        var state = checkpoint.LoadAll();
        Assert.That(CheckpointTestFiles.BitEqual(state["encoder.embed_tokens.weight"].Data, state["decoder.embed_tokens.weight"].Data), Is.False);

        var output = Path.Combine(_dir, "out");
        HfCheckpointExporter.Export(state, output);
        AssertSameTensors(CheckpointTestFiles.HfT5Tiny, output);
        using var reloaded = HfCheckpointLoader.Open(output);
        Assert.That(reloaded.Layout, Is.EqualTo(EmbeddingLayout.Separate));
    }

    [Test]
    public void ShardedExportWithASmallShardSizeReloads()
    {
        using var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.HfT5Tiny);
        var output = Path.Combine(_dir, "sharded");
        var files = HfCheckpointExporter.Export(checkpoint, output, new HfExportOptions { MaxShardBytes = ByteSize.Parse("600KB") });
        Assert.That(files.Count, Is.GreaterThan(3));
        Assert.That(files.Select(Path.GetFileName), Is.EqualTo(Enumerable.Range(1, files.Count).Select(i => $"model-{i:D5}-of-{files.Count:D5}.safetensors")));
        Assert.That(File.Exists(Path.Combine(output, "model.safetensors")), Is.False);
        var index = SafetensorsIndex.Load(Path.Combine(output, SafetensorsIndex.FileName));
        Assert.That(index.TotalSize, Is.EqualTo(checkpoint.Tensors.Sum(t => t.ElementCount * 4)));
        foreach (var file in files.Skip(1).SkipLast(1)) Assert.That(new FileInfo(file).Length, Is.LessThan(600_000 + 10_000));
        AssertSameTensors(CheckpointTestFiles.HfT5Tiny, output);

        // Exporting again single-file into the same folder removes the old shards.
        HfCheckpointExporter.Export(checkpoint, output);
        Assert.That(Directory.GetFiles(output, "*.safetensors").Select(Path.GetFileName), Is.EqualTo(new[] { "model.safetensors" }));
        Assert.That(File.Exists(Path.Combine(output, SafetensorsIndex.FileName)), Is.False);
    }

    [TestCase("bf16")]
    [TestCase("fp16")]
    public void HalfPrecisionExportsLoadWithinTheDTypeRounding(string dtypeName)
    {
        var dtype = SafetensorsDTypes.ParseExportDType(dtypeName);
        using var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.FlanT5Tiny);
        var output = Path.Combine(_dir, dtypeName);
        HfCheckpointExporter.Export(checkpoint, output, new HfExportOptions { DType = dtype });
        using var reloaded = HfCheckpointLoader.Open(output);
        Assert.That(reloaded.Files.Info("shared.weight").DType, Is.EqualTo(dtype));
        var original = CheckpointTestFiles.ReadAll(CheckpointTestFiles.FlanT5Tiny);
        var half = reloaded.LoadAll();
        float relative = dtype == SafetensorsDType.BF16 ? 1f / 256 : 1f / 2048;
        foreach (var (name, (_, data)) in original)
        {
            var back = half[name].Data;
            for (int i = 0; i < data.Length; i++)
            {
                float rounded = dtype == SafetensorsDType.BF16
                    ? DTypeConversion.Bf16ToFloat32(DTypeConversion.Float32ToBf16(data[i]))
                    : (float)(Half)data[i];
                if (BitConverter.SingleToInt32Bits(back[i]) != BitConverter.SingleToInt32Bits(rounded))
                    Assert.Fail($"{name}[{i}]: {back[i]} is not {data[i]} rounded to {dtypeName} ({rounded})");
                if (Math.Abs(back[i] - data[i]) > Math.Abs(data[i]) * relative + 6e-8f)
                    Assert.Fail($"{name}[{i}]: {back[i]} is further than the {dtypeName} rounding from {data[i]}");
            }
        }
        Assert.That(File.ReadAllText(Path.Combine(output, "config.json")), Does.Contain(dtype == SafetensorsDType.BF16 ? "bfloat16" : "float16"));
    }

    [Test]
    public void BitIdenticalAliasesLoadAsShared()
    {
        var tensors = CheckpointTestFiles.ReadAll(CheckpointTestFiles.FlanT5Tiny);
        var shared = tensors["shared.weight"];
        tensors["encoder.embed_tokens.weight"] = shared;
        tensors["decoder.embed_tokens.weight"] = (shared.Shape, (float[])shared.Data.Clone());
        WriteModel(tensors);
        using (var checkpoint = HfCheckpointLoader.Open(_dir))
        {
            Assert.That(checkpoint.Layout, Is.EqualTo(EmbeddingLayout.Shared));
            Assert.That(checkpoint.ExportOnly, Is.Empty);
        }

        // One differing element makes them separate matrices.
        tensors["decoder.embed_tokens.weight"].Data[5] += 1f;
        WriteModel(tensors);
        using var separate = HfCheckpointLoader.Open(_dir);
        Assert.That(separate.Layout, Is.EqualTo(EmbeddingLayout.Separate));
    }

    [Test]
    public void HubIndexListingAliasesItsFilesLackLoadsAsShared()
    {
        // Like google/flan-t5-xl: the index lists encoder/decoder.embed_tokens, the shard files do not hold them.
        using (var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.FlanT5Tiny))
            HfCheckpointExporter.Export(checkpoint, _dir, new HfExportOptions { MaxShardBytes = 1_000_000 });
        var indexPath = Path.Combine(_dir, SafetensorsIndex.FileName);
        var index = SafetensorsIndex.Load(indexPath);
        var map = index.WeightMap.ToDictionary();
        map["encoder.embed_tokens.weight"] = map["shared.weight"];
        map["decoder.embed_tokens.weight"] = map["shared.weight"];
        SafetensorsIndex.Write(indexPath, map, index.TotalSize!.Value);

        using var loaded = HfCheckpointLoader.Open(_dir);
        Assert.That(loaded.Layout, Is.EqualTo(EmbeddingLayout.Shared));
        Assert.That(loaded.Files.ListedButAbsent, Is.EquivalentTo(new[] { "encoder.embed_tokens.weight", "decoder.embed_tokens.weight" }));
    }

    [Test]
    public void MissingUnexpectedAndMisshapenKeysAreReportedTogether()
    {
        var tensors = CheckpointTestFiles.ReadAll(CheckpointTestFiles.FlanT5Tiny);
        tensors.Remove("encoder.block.1.layer.1.DenseReluDense.wo.weight");
        tensors.Remove("lm_head.weight");
        tensors["encoder.block.0.layer.0.SelfAttention.k.bias"] = ([2], [1f, 2f]);
        tensors["decoder.final_layer_norm.weight"] = ([63], new float[63]);
        WriteModel(tensors);
        var e = Assert.Throws<InvalidDataException>(() => HfCheckpointLoader.Open(_dir).Dispose())!;
        Assert.That(e.Message, Does.Contain("missing keys (2): encoder.block.1.layer.1.DenseReluDense.wo.weight, lm_head.weight"));
        Assert.That(e.Message, Does.Contain("unexpected keys (1): encoder.block.0.layer.0.SelfAttention.k.bias"));
        Assert.That(e.Message, Does.Contain("wrong shapes (1): decoder.final_layer_norm.weight: [63], expected [64]"));
    }

    [Test]
    public void ExportingIntoTheSourceFolderIsRefused()
    {
        using var checkpoint = HfCheckpointLoader.Open(CheckpointTestFiles.FlanT5Tiny);
        Assert.Throws<ArgumentException>(() => HfCheckpointExporter.Export(checkpoint, CheckpointTestFiles.FlanT5Tiny));
    }

    private void WriteModel(Dictionary<string, (int[] Shape, float[] Data)> tensors)
    {
        File.Copy(Path.Combine(CheckpointTestFiles.FlanT5Tiny, "config.json"), Path.Combine(_dir, "config.json"), overwrite: true);
        SafetensorsWriter.WriteFile(Path.Combine(_dir, "model.safetensors"), tensors.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Data)));
    }

    internal static void AssertSameTensors(string expectedPath, string actualPath)
    {
        var expected = CheckpointTestFiles.ReadAll(expectedPath);
        var actual = CheckpointTestFiles.ReadAll(actualPath);
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, (shape, data)) in expected)
        {
            Assert.That(actual[name].Shape, Is.EqualTo(shape), name);
            Assert.That(CheckpointTestFiles.BitEqual(actual[name].Data, data), name + " bit-exact");
        }
    }
}
