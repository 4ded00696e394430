using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

/// <summary>A decoder whose row r at step t favours script[r][t] (logit 2), then token 0 (logit 1), others 0.
/// Records what it was fed.</summary>
public sealed class ScriptedDecoder(int vocab, int[][] script) : IIncrementalDecoder
{
    private int _step;

    public int VocabSize { get; } = vocab;

    public int BeginCount { get; private set; }

    public List<int[]> Fed { get; } = [];

    public void Begin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int srcLen, int maxSteps)
    {
        Assert.That(batch, Is.EqualTo(script.Length));
        _step = 0;
        BeginCount++;
    }

    public void Step(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Fed.Add(tokens.ToArray());
        logits.Clear();
        for (int r = 0; r < tokens.Length; r++)
        {
            logits[r * VocabSize] = 1f;
            logits[r * VocabSize + script[r][_step]] = 2f;
        }

        _step++;
    }

    public void Reorder(ReadOnlySpan<int> rows) => throw new NotSupportedException("greedy search never reorders");

    public void End()
    {
    }
}
