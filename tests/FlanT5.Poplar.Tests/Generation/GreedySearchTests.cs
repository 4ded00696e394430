using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

public sealed class GreedySearchTests
{
    private static IEnumerable<ToyGenerationCase> Cases() => ToyGenerationCase.Load("greedy");

    [TestCaseSource(nameof(Cases))]
    public void MatchesTransformersGreedyOnToyModel(ToyGenerationCase c)
    {
        ToyDecoder decoder = c.Decoder();

        GenerationResult result = GreedySearch.Run(decoder, c.Inputs(), c.Options());

        Assert.That(result.Sequences, Is.EqualTo(c.ExpectedIds));
        Assert.That(result.Scores, Is.Null);
        Assert.That(decoder.BeginCount, Is.EqualTo(1));
        Assert.That(decoder.EndCount, Is.EqualTo(1));
        Assert.That(decoder.StepCount, Is.EqualTo(c.ExpectedSteps), "stops at the same step as transformers");
    }

    [Test]
    public void StopsWhenEveryRowEmittedEosAndPadsFinishedRows()
    {
        // Row 0 emits EOS at once, row 1 after two tokens; decoding stops there although 10 tokens are allowed.
        var decoder = new ScriptedDecoder(vocab: 6, [[1, 4, 4], [3, 5, 1]]);
        var inputs = new EncoderBatch([7, 7], [1, 1], batch: 2, srcLen: 1);

        GenerationResult result = GreedySearch.Run(decoder, inputs, new GenerationOptions { MaxNewTokens = 10 });

        Assert.That(result.Sequences, Is.EqualTo(new[] { new[] { 0, 1, 0, 0 }, new[] { 0, 3, 5, 1 } }));
        Assert.That(decoder.Fed, Is.EqualTo(new[] { new[] { 0, 0 }, new[] { 1, 3 }, new[] { 0, 5 } }),
            "a finished row is fed the pad token");
    }

    [Test]
    public void NaNLogitsThrowNamingRowAndStepAndEndTheDecode()
    {
        ToyGenerationCase c = Cases().First();
        ToyDecoder decoder = c.Decoder();
        decoder.NaNAt = (1, 2);

        var error = Assert.Throws<InvalidOperationException>(() => GreedySearch.Run(decoder, c.Inputs(), c.Options()));

        Assert.That(error!.Message, Does.Contain("row 1").And.Contain("step 2").And.Contain("NaN"));
        Assert.That(decoder.EndCount, Is.EqualTo(1));
        Assert.That(decoder.Active, Is.False);
    }

    [Test]
    public void LogitsProcessorsEditScoresBeforeArgmax()
    {
        var decoder = new ScriptedDecoder(vocab: 6, [[4, 4, 4]]);
        var inputs = new EncoderBatch([7], [1], batch: 1, srcLen: 1);
        var options = new GenerationOptions { MaxNewTokens = 3, LogitsProcessors = [new BanToken(4)] };

        GenerationResult result = GreedySearch.Run(decoder, inputs, options);

        // Scripted logits put 4 first and token 0 second: banning 4 leaves 0.
        Assert.That(result.Sequences[0], Is.EqualTo(new[] { 0, 0, 0, 0 }));
    }

    [Test]
    public void RejectsOptionsOutsideTheVocab()
    {
        var decoder = new ScriptedDecoder(vocab: 6, [[1]]);
        var inputs = new EncoderBatch([7], [1], batch: 1, srcLen: 1);

        Assert.That(() => GreedySearch.Run(decoder, inputs, new GenerationOptions { MaxNewTokens = 0 }),
            Throws.ArgumentException.With.Message.Contains("MaxNewTokens"));
        Assert.That(() => GreedySearch.Run(decoder, inputs, new GenerationOptions { EosTokenId = 6 }),
            Throws.ArgumentException.With.Message.Contains("EosTokenId 6"));
        Assert.That(decoder.BeginCount, Is.Zero, "validation happens before the decode starts");
    }

    private sealed class BanToken(int token) : ILogitsProcessor
    {
        public void Process(ReadOnlySpan<int> sequence, Span<float> scores) => scores[token] = float.NegativeInfinity;
    }
}
