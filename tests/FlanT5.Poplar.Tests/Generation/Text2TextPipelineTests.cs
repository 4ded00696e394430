using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Generation;

public sealed class Text2TextPipelineTests
{
    private static ToyGenerationCase Case(string name) =>
        ToyGenerationCase.Load("greedy").Concat(ToyGenerationCase.Load("beam")).First(c => c.Name == name);

    [TestCase("greedy_eos_mixed", 6)]
    [TestCase("greedy_eos_mixed", 4)]
    [TestCase("beam3_eos_mixed", 6)]
    [TestCase("beam3_eos_mixed", 1)]
    public void GeneratesTheReferenceTextsInPromptOrderForAnyBatchSize(string name, int batchSize)
    {
        ToyGenerationCase c = Case(name);
        var pipeline = new Text2TextPipeline(c.Decoder(), new DigitTokenizer(), new GenerationOptions());

        IReadOnlyList<string> texts = pipeline.Generate(Prompts(c), c.Options() with { BatchSize = batchSize });

        // Re-batching changes the padding but not the toy's encoder context, so texts equal the fixture's rows
        // (greedy or beam, chosen by NumBeams) without special tokens.
        string[] expected = c.ExpectedIds.Select(ids => new DigitTokenizer().Decode(ids, skipSpecialTokens: true)).ToArray();
        Assert.That(texts, Is.EqualTo(expected));
        Assert.That(expected.Distinct().Count(), Is.GreaterThan(2), "the case must tell rows apart");
    }

    [TestCase("greedy_eos_mixed")]
    [TestCase("beam3_eos_mixed")]
    public void BucketedPromptsDecodeOnTheDeclaredBucketsWithTheSameTexts(string name)
    {
        ToyGenerationCase c = Case(name);
        var decoder = new RecordingDecoder(c.Decoder());
        var pipeline = new Text2TextPipeline(decoder, new DigitTokenizer(), new GenerationOptions());
        int[] buckets = [2, 16, 64];
        var options = c.Options() with { BatchSize = 2, PromptPadding = PaddingOptions.Bucketed(buckets) };

        IReadOnlyList<string> texts = pipeline.Generate(Prompts(c), options);

        string[] expected = c.ExpectedIds.Select(ids => new DigitTokenizer().Decode(ids, skipSpecialTokens: true)).ToArray();
        Assert.That(texts, Is.EqualTo(expected), "masked padding changes no text");
        Assert.That(decoder.Begun, Is.Not.Empty);
        foreach (DecodeSize begun in decoder.Begun)
        {
            Assert.That(buckets, Does.Contain(begun.SourceLength), "each batch's prompts pad to a bucket");
            Assert.That(decoder.Prepared, Does.Contain(begun), "every decode was declared up front");
        }
        if (c.NumBeams > 1)
            Assert.That(decoder.Prepared, Does.Contain(decoder.Begun[0] with { Rows = 2 * c.NumBeams }),
                "beam search goes on with a row per beam");
    }

    [Test]
    public void APromptLongerThanTheLastBucketIsNotCut()
    {
        var options = new GenerationOptions { PromptPadding = PaddingOptions.Bucketed([4, 8]) };
        Assert.That(options.PromptLength(3), Is.EqualTo(4));
        Assert.That(options.PromptLength(8), Is.EqualTo(8));
        Assert.That(options.PromptLength(11), Is.EqualTo(11));
        Assert.That(new GenerationOptions().PromptLength(11), Is.EqualTo(11), "by default a batch pads to its longest");
    }

    [Test]
    public void SinglePromptUsesTheDefaults()
    {
        ToyGenerationCase c = Case("greedy_no_eos");
        var pipeline = new Text2TextPipeline(c.Decoder(), new DigitTokenizer(), c.Options() with { BatchSize = 1 });

        string text = pipeline.Generate(Prompts(c)[3]);

        Assert.That(text, Is.EqualTo(new DigitTokenizer().Decode(c.ExpectedIds[3], skipSpecialTokens: true)));
    }

    [Test]
    public void RejectsPromptsThatEncodeToNothing()
    {
        ToyGenerationCase c = Case("greedy_no_eos");
        var pipeline = new Text2TextPipeline(c.Decoder(), new DigitTokenizer(), c.Options());

        Assert.That(() => pipeline.Generate(["5 6", ""], c.Options()),
            Throws.ArgumentException.With.Message.Contains("prompt 1 encodes to no tokens"));
    }

    /// <summary>The case's unpadded input rows, written as prompts of the digit tokenizer.</summary>
    private static string[] Prompts(ToyGenerationCase c) =>
        Enumerable.Range(0, c.Batch)
            .Select(b => string.Join(' ', Enumerable.Range(0, c.SrcLen)
                .Where(s => c.AttentionMask[b * c.SrcLen + s] == 1)
                .Select(s => c.InputIds[b * c.SrcLen + s])))
            .ToArray();

    /// <summary>A decoder that records the decodes it was told of and those that began.</summary>
    private sealed class RecordingDecoder(IIncrementalDecoder inner) : IIncrementalDecoder
    {
        public List<DecodeSize> Prepared { get; } = [];

        public List<DecodeSize> Begun { get; } = [];

        public int VocabSize => inner.VocabSize;

        public void Begin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int srcLen, int maxSteps)
        {
            Begun.Add(new DecodeSize(batch, srcLen, maxSteps));
            inner.Begin(inputIds, attentionMask, batch, srcLen, maxSteps);
        }

        public void Step(ReadOnlySpan<int> tokens, Span<float> logits) => inner.Step(tokens, logits);

        public void Reorder(ReadOnlySpan<int> rows) => inner.Reorder(rows);

        public void End() => inner.End();

        public void Prepare(IReadOnlyList<DecodeSize> decodes) => Prepared.AddRange(decodes);
    }

    /// <summary>"5 12 3" ⇄ [5, 12, 3]; pad 0 and EOS 1 are the special tokens.</summary>
    private sealed class DigitTokenizer : ITextTokenizer
    {
        public int PadId => 0;

        public int EosId => 1;

        public int[] Encode(string text) =>
            text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

        public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens)
        {
            var kept = new List<string>();
            foreach (int id in ids)
            {
                if (!skipSpecialTokens || (id != PadId && id != EosId))
                    kept.Add(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return string.Join(' ', kept);
        }
    }
}
