using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

public sealed class BeamSearchTests
{
    private static IEnumerable<ToyGenerationCase> Cases() => ToyGenerationCase.Load("beam");

    [TestCaseSource(nameof(Cases))]
    public void MatchesTransformersBeamSearchOnToyModel(ToyGenerationCase c)
    {
        ToyDecoder decoder = c.Decoder();

        GenerationResult result = BeamSearch.Run(decoder, c.Inputs(), c.Options());

        Assert.That(result.Sequences, Is.EqualTo(c.ExpectedIds));
        // Scores: the reference recomputes sum(log_softmax) / len^lp with torch's float32 log_softmax; ours sums
        // in double, so they agree to float32 rounding (relative 1e-6 over at most 12 accumulated steps).
        Assert.That(result.Scores, Has.Count.EqualTo(c.Batch));
        for (int b = 0; b < c.Batch; b++)
        {
            float expected = c.ExpectedScores![b];
            Assert.That(result.Scores![b], Is.EqualTo(expected).Within(1e-6f * Math.Max(1f, Math.Abs(expected))), $"score of row {b}");
        }
        Assert.That(decoder.EndCount, Is.EqualTo(1));
        Assert.That(decoder.StepCount, Is.EqualTo(c.ExpectedSteps), "stops at the same step as transformers");
        Assert.That(decoder.RowsPerStep, Is.All.EqualTo(c.Batch * c.NumBeams), "every step runs batch x beams rows");
    }

    [Test]
    public void NaNLogitsThrowNamingRowAndStep()
    {
        ToyGenerationCase c = Cases().First(x => x.Name == "beam3_no_eos");
        ToyDecoder decoder = c.Decoder();
        decoder.NaNAt = (4, 1);

        var error = Assert.Throws<InvalidOperationException>(() => BeamSearch.Run(decoder, c.Inputs(), c.Options()));

        Assert.That(error!.Message, Does.Contain("row 4").And.Contain("step 1").And.Contain("NaN"));
        Assert.That(decoder.EndCount, Is.EqualTo(1));
    }

    [Test]
    public void PositiveInfinityLogitsAreRejectedAsNaNLogProbabilities()
    {
        ToyGenerationCase c = Cases().First(x => x.Name == "beam3_no_eos");
        var decoder = new InfinityDecoder(c.Decoder());

        Assert.That(() => BeamSearch.Run(decoder, c.Inputs(), c.Options()),
            Throws.InvalidOperationException.With.Message.Contains("log-probabilities of row 0"));
    }

    [Test]
    public void LogitsProcessorsSeeEachBeamsSequenceAndEditItsLogProbabilities()
    {
        ToyGenerationCase c = Cases().First(x => x.Name == "beam3_eos_mixed");
        var banEos = new BanEos();

        GenerationResult result = BeamSearch.Run(c.Decoder(), c.Inputs(), c.Options() with { LogitsProcessors = [banEos] });

        Assert.That(c.ExpectedIds.Any(ids => ids.Contains(1)), Is.True, "without the processor rows end in EOS");
        Assert.That(result.Sequences.SelectMany(ids => ids), Has.None.EqualTo(1));
        Assert.That(result.Sequences, Has.All.Length.EqualTo(1 + c.MaxNewTokens));
        Assert.That(banEos.Calls, Is.EqualTo(c.MaxNewTokens * c.Batch * c.NumBeams));
        Assert.That(banEos.MaxSumOfProbabilities, Is.EqualTo(1.0).Within(1e-5), "it receives log-probabilities");
    }

    private sealed class BanEos : ILogitsProcessor
    {
        public int Calls { get; private set; }

        public double MaxSumOfProbabilities { get; private set; }

        public void Process(ReadOnlySpan<int> sequence, Span<float> scores)
        {
            Assert.That(sequence[0], Is.Zero, "sequences start with the decoder start token");
            Assert.That(sequence.Length, Is.EqualTo(Calls / 18 + 1), "one more token per step (batch 6 x 3 beams)");
            double sum = 0;
            foreach (float s in scores)
                sum += Math.Exp(s);
            MaxSumOfProbabilities = Math.Max(MaxSumOfProbabilities, sum);
            scores[1] = float.NegativeInfinity;
            Calls++;
        }
    }

    private sealed class InfinityDecoder(ToyDecoder inner) : IIncrementalDecoder
    {
        public int VocabSize => inner.VocabSize;

        public void Begin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int srcLen, int maxSteps) =>
            inner.Begin(inputIds, attentionMask, batch, srcLen, maxSteps);

        public void Step(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            inner.Step(tokens, logits);
            logits[2] = float.PositiveInfinity;
        }

        public void Reorder(ReadOnlySpan<int> rows) => inner.Reorder(rows);

        public void End() => inner.End();
    }
}
