using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

/// <summary>
/// The toy model of make_toy_generation.py, bit for bit: ctx = Σ ids·mask·(s+1) mod nCtx per prompt; the "cache"
/// is a hash of the row's history (h = (h·31 + token + 7) mod nHash, starting at ctx·13 mod nHash), so a wrong
/// reorder changes later logits; logits = table[h] + ctxTable[ctx] in float32. It also checks the call protocol.
/// </summary>
public sealed class ToyDecoder : IIncrementalDecoder
{
    private readonly float[] _table, _ctxTable;
    private readonly int _numHash, _numCtx;
    private long[] _ctx = [], _hash = [];
    private int _maxSteps, _steps;

    public ToyDecoder(float[] table, float[] ctxTable, int numHash, int numCtx, int vocab)
    {
        _table = table;
        _ctxTable = ctxTable;
        _numHash = numHash;
        _numCtx = numCtx;
        VocabSize = vocab;
    }

    public int VocabSize { get; }

    public bool Active { get; private set; }

    public int BeginCount { get; private set; }

    public int EndCount { get; private set; }

    public int StepCount { get; private set; }

    /// <summary>Rows per step as the search fed them.</summary>
    public List<int> RowsPerStep { get; } = [];

    /// <summary>When set, the logits of this row at this step are NaN.</summary>
    public (int Row, int Step)? NaNAt { get; set; }

    public void Begin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int srcLen, int maxSteps)
    {
        Assert.That(inputIds.Length, Is.EqualTo(batch * srcLen), "input ids length");
        Assert.That(attentionMask.Length, Is.EqualTo(batch * srcLen), "attention mask length");
        Assert.That(maxSteps, Is.GreaterThan(0));
        _ctx = new long[batch];
        _hash = new long[batch];
        for (int b = 0; b < batch; b++)
        {
            long sum = 0;
            for (int s = 0; s < srcLen; s++)
                sum += (long)inputIds[b * srcLen + s] * attentionMask[b * srcLen + s] * (s + 1);
            _ctx[b] = sum % _numCtx;
            _hash[b] = _ctx[b] * 13 % _numHash;
        }

        _maxSteps = maxSteps;
        _steps = 0;
        Active = true;
        BeginCount++;
    }

    public void Step(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Assert.That(Active, Is.True, "Step outside Begin/End");
        Assert.That(tokens.Length, Is.EqualTo(_hash.Length), "one token per cache row");
        Assert.That(logits.Length, Is.EqualTo(tokens.Length * VocabSize), "logits span");
        Assert.That(_steps, Is.LessThan(_maxSteps), "more steps than Begin reserved");
        int vocab = VocabSize;
        for (int r = 0; r < tokens.Length; r++)
        {
            Assert.That(tokens[r], Is.InRange(0, vocab - 1), "token id");
            _hash[r] = (_hash[r] * 31 + tokens[r] + 7) % _numHash;
            for (int v = 0; v < vocab; v++)
                logits[r * vocab + v] = _table[_hash[r] * vocab + v] + _ctxTable[_ctx[r] * vocab + v];
            if (NaNAt is { } at && at.Row == r && at.Step == _steps)
                logits[r * vocab + 3] = float.NaN;
        }

        RowsPerStep.Add(tokens.Length);
        _steps++;
        StepCount++;
    }

    public void Reorder(ReadOnlySpan<int> rows)
    {
        Assert.That(Active, Is.True, "Reorder outside Begin/End");
        var ctx = new long[rows.Length];
        var hash = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.That(rows[i], Is.InRange(0, _hash.Length - 1), "reorder row");
            ctx[i] = _ctx[rows[i]];
            hash[i] = _hash[rows[i]];
        }

        _ctx = ctx;
        _hash = hash;
    }

    public void End()
    {
        Active = false;
        EndCount++;
    }
}
