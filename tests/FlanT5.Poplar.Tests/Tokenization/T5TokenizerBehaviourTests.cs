using System.Security.Cryptography;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Tokenization;

public class T5TokenizerBehaviourTests
{
    [Test]
    public void LoadingLeavesTheModelFileUntouched()
    {
        byte[] before = SHA256.HashData(File.ReadAllBytes(TokenizerFixtures.SpieceModel));
        var tok = T5Tokenizer.FromModelFile(TokenizerFixtures.SpieceModel);
        Assert.That(tok.VocabSize, Is.EqualTo(2100));
        Assert.That(SHA256.HashData(File.ReadAllBytes(TokenizerFixtures.SpieceModel)), Is.EqualTo(before));
    }

    /// <summary>
    /// Documents the Microsoft.ML.Tokenizers 2.0.1 defect T5Tokenizer works around: the unpatched T5 model (bos_id = -1)
    /// does not load. If this starts failing after a package update, the defect is fixed and the patch can go.
    /// </summary>
    [Test]
    public void PackageAloneRejectsT5BosSetting()
    {
        using var stream = File.OpenRead(TokenizerFixtures.SpieceModel);
        Assert.That(() => Microsoft.ML.Tokenizers.SentencePieceTokenizer.Create(stream), Throws.Exception);
    }

    [TestCase("<<pad>", new[] { 84, 0, 1 })]
    [TestCase("a<pad>b", new[] { 9, 0, 296, 1 })] // spm_encode: "a" → ▁a 9, "b" → ▁b 296
    [TestCase("<extra_id_1><extra_id_99>", new[] { 2098, 2000, 1 })]
    [TestCase("<extra_id_01>", null)]
    [TestCase("<extra_id_100>", null)]
    [TestCase("<s>", null)]
    public void SpecialTokenTextIsRecognisedExactly(string text, int[]? expected)
    {
        var tok = TokenizerFixtures.Tokenizer;
        var ids = tok.Encode(text);
        if (expected is null)
            Assert.That(ids, Is.EqualTo(tok.EncodePlain(text).Append(tok.EosId).ToArray()), "not a special token: plain sentencepiece");
        else
            Assert.That(ids, Is.EqualTo(expected));
    }

    [Test]
    public void UnknownRunIsOneUnk()
    {
        var tok = TokenizerFixtures.Tokenizer;
        Assert.That(tok.Encode("日本語のテキスト"), Is.EqualTo(new[] { 4, tok.UnkId, tok.EosId }));
        Assert.That(tok.Encode("日本 語"), Is.EqualTo(new[] { 4, tok.UnkId, 4, tok.UnkId, tok.EosId }));
    }

    [Test]
    public void BatchPadsToLongestMultipleAndTruncatesKeepingEos()
    {
        var tok = TokenizerFixtures.Tokenizer;
        string[] texts = ["entailment", "mnli hypothesis: A dog runs. premise: A dog runs fast on the beach."];
        var longest = tok.EncodeBatch(texts, PaddingOptions.Longest());
        Assert.That(longest.Length, Is.EqualTo(tok.Encode(texts[1]).Length));
        var multiple = tok.EncodeBatch(texts, PaddingOptions.Longest(multipleOf: 16));
        Assert.That(multiple.Length % 16, Is.Zero);
        Assert.That(multiple.Row(0)[..3].ToArray(), Is.EqualTo(new[] { 59, 1, 0 }));
        Assert.That(multiple.MaskRow(0)[..3].ToArray(), Is.EqualTo(new[] { 1, 1, 0 }));
        var cut = tok.EncodeBatch(texts, PaddingOptions.Fixed(6));
        Assert.That(cut.Row(1).ToArray(), Is.EqualTo(tok.Encode(texts[1])[..5].Append(tok.EosId).ToArray()));
        Assert.That(() => tok.EncodeBatch(texts, PaddingOptions.Fixed(6, truncate: false)), Throws.ArgumentException.With.Message.Contains("text 1"));
        Assert.That(() => tok.EncodeBatch(texts, PaddingOptions.Fixed(0)), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void BucketedPaddingTakesTheSmallestBucketThatHoldsTheLongestRowAndCutsAtTheLast()
    {
        var tok = TokenizerFixtures.Tokenizer;
        string[] texts = ["entailment", "mnli hypothesis: A dog runs. premise: A dog runs fast on the beach."];
        int longest = tok.Encode(texts[1]).Length;
        var buckets = PaddingOptions.PowerOfTwoBuckets(24);
        Assert.That(buckets.Buckets, Is.EqualTo(new[] { 1, 2, 4, 8, 16, 24 }));
        int expected = buckets.Buckets.First(b => b >= longest);
        Assert.That(tok.EncodeBatch(texts, buckets).Length, Is.EqualTo(expected));
        Assert.That(tok.EncodeBatch(texts[..1], buckets).Length, Is.EqualTo(2), "entailment and eos");
        var cut = tok.EncodeBatch(texts, PaddingOptions.PowerOfTwoBuckets(6));
        Assert.That(cut.Row(1).ToArray(), Is.EqualTo(tok.Encode(texts[1])[..5].Append(tok.EosId).ToArray()));
        Assert.That(PaddingOptions.PowerOfTwoBuckets(16).Buckets, Is.EqualTo(new[] { 1, 2, 4, 8, 16 }));
        Assert.That(() => tok.EncodeBatch(texts, PaddingOptions.Bucketed([8, 4])),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("positive and ascending, got [8, 4]"));
        Assert.That(() => tok.EncodeBatch(texts, PaddingOptions.Bucketed([])),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("at least one bucket"));
        Assert.That(() => PaddingOptions.PowerOfTwoBuckets(0), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ConcurrentEncodingEqualsSerial()
    {
        var tok = TokenizerFixtures.Tokenizer;
        var texts = Enumerable.Range(0, 2000).Select(i => $"mnli hypothesis: Row {i} has ünïcödé 日本 <extra_id_{i % 100}> text. premise: The {i % 7} dogs.").ToArray();
        var serial = texts.Select(t => tok.Encode(t)).ToArray();
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = tok.Encode(texts[i]));
        Assert.That(parallel, Is.EqualTo(serial));
        var batch = tok.EncodeBatch(texts, PaddingOptions.Longest());
        for (int i = 0; i < texts.Length; i += 97)
            Assert.That(batch.Row(i)[..serial[i].Length].ToArray(), Is.EqualTo(serial[i]));
    }

    [Test]
    public void DecodeDropsIdsPastTheVocabularyAndRejectsNegativeIds()
    {
        var tok = TokenizerFixtures.Tokenizer;
        Assert.That(tok.Decode([59, 2150, 1]), Is.EqualTo("entailment</s>"));
        Assert.That(() => tok.Decode([59, -100]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("-100"));
    }

    [Test]
    public void BadModelFilesGiveClearErrors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "flant5-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Assert.That(() => T5Tokenizer.FromDirectory(dir), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("spiece.model"));
            File.WriteAllBytes(Path.Combine(dir, "spiece.model"), [0x0A, 0xFF, 0xFF]);
            Assert.That(() => T5Tokenizer.FromDirectory(dir), Throws.TypeOf<InvalidDataException>().With.Message.Contains("not a sentencepiece model"));
            File.Copy(TokenizerFixtures.SpieceModel, Path.Combine(dir, "spiece.model"), overwrite: true);
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"extra_ids\": 10}");
            var tok = T5Tokenizer.FromDirectory(dir);
            Assert.That((tok.VocabSize, tok.ExtraId(0)), Is.EqualTo((2010, 2009)));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"extra_ids\": \"many\"}");
            Assert.That(() => T5Tokenizer.FromDirectory(dir), Throws.TypeOf<InvalidDataException>().With.Message.Contains("extra_ids"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
