using FlanT5.Poplar.Generation;

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
