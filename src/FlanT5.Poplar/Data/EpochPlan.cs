namespace FlanT5.Poplar.Data;

/// <summary>
/// The order of one epoch: which dataset rows make each global batch. Pure function of (dataset size, lengths,
/// options, seed, epoch), computed identically on every host instance.
/// </summary>
internal sealed class EpochPlan
{
    private readonly int[] _order;
    private readonly int _globalBatch;

    public EpochPlan(int count, Func<int, int>? length, DataLoaderOptions options, int seed, int epoch)
    {
        _globalBatch = options.GlobalBatchSize;
        Epoch = epoch;
        Seed = seed;
        BatchCount = options.DropLast ? count / _globalBatch : (count + _globalBatch - 1) / _globalBatch;

        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        var rng = SeededRandom.For(seed, epoch);
        if (options.Shuffle)
            rng.Shuffle(order.AsSpan());

        if (!options.DropLast && count % _globalBatch != 0)
        {
            // Complete the last global batch from the start of this epoch's order, as DistributedSampler pads.
            int missing = BatchCount * _globalBatch - count;
            Array.Resize(ref order, BatchCount * _globalBatch);
            for (int i = 0; i < missing; i++) order[count + i] = order[i % count];
        }
        else
        {
            Array.Resize(ref order, BatchCount * _globalBatch);
        }

        if (options.BucketWindow > 0 && length is not null)
            Bucket(order, length, options.BucketWindow * _globalBatch, ref rng);
        _order = order;
    }

    public int Epoch { get; }
    public int Seed { get; }
    public int BatchCount { get; }

    /// <summary>The dataset rows of global batch <paramref name="batch"/>.</summary>
    public ReadOnlySpan<int> GlobalBatch(long batch) => _order.AsSpan(checked((int)(batch * _globalBatch)), _globalBatch);

    private void Bucket(int[] order, Func<int, int> length, int window, ref SeededRandom rng)
    {
        var keys = new int[window];
        for (int start = 0; start < order.Length; start += window)
        {
            int n = Math.Min(window, order.Length - start);
            var span = order.AsSpan(start, n);
            for (int i = 0; i < n; i++) keys[i] = length(span[i]);
            // Stable for equal lengths: ties keep the shuffled order.
            var indexed = span.ToArray().Select((row, i) => (row, key: keys[i], i)).OrderBy(x => x.key).ThenBy(x => x.i).Select(x => x.row).ToArray();
            indexed.CopyTo(span);
            // Shuffle whole batches within the window so lengths do not rise monotonically.
            int batches = n / _globalBatch;
            var batchOrder = new int[batches];
            for (int b = 0; b < batches; b++) batchOrder[b] = b;
            rng.Shuffle(batchOrder.AsSpan());
            var copy = span.ToArray();
            for (int b = 0; b < batches; b++)
                copy.AsSpan(batchOrder[b] * _globalBatch, _globalBatch).CopyTo(span.Slice(b * _globalBatch, _globalBatch));
        }
    }
}
