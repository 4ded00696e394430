using System.Runtime.CompilerServices;
using System.Threading.Channels;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Data;

/// <summary>
/// Feeds padded <see cref="Seq2SeqBatch"/>es from text-to-text examples: seeded shuffle per epoch, optional length
/// bucketing, drop-last, sharding by host instance and data-parallel replica, and a resumable <see cref="DataCursor"/>.
/// Batches are tokenized by a background producer into a bounded channel, so the device never waits on tokenization.
/// Each batch is this instance's slice of a global batch: <see cref="DataLoaderOptions.ReplicasPerInstance"/> ×
/// <see cref="DataLoaderOptions.BatchSize"/> rows, replica-major.
/// </summary>
public sealed class DataLoader
{
    private readonly IReadOnlyList<Seq2SeqExample> _examples;
    private readonly T5Tokenizer _tokenizer;
    private readonly BatchBuilder _builder;
    private readonly Dictionary<string, int[]> _targetCache = new(StringComparer.Ordinal);
    private readonly Lock _targetCacheLock = new();
    private volatile EpochPlan? _lastPlan; // planning an epoch sorts the dataset; reuse it across GetBatch calls

    public DataLoader(IReadOnlyList<Seq2SeqExample> examples, T5Tokenizer tokenizer, DataLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options.Validate();
        if (examples.Count == 0)
            throw new ArgumentException("the dataset has no examples", nameof(examples));
        if (options.DropLast && examples.Count < options.GlobalBatchSize)
            throw new ArgumentException(
                $"the dataset has {examples.Count} examples, fewer than one global batch of {options.GlobalBatchSize} (with drop-last there would be no batch)", nameof(examples));
        _examples = examples;
        _tokenizer = tokenizer;
        Options = options;
        _builder = new BatchBuilder(options.SourcePadding, options.TargetPadding, Math.Max(tokenizer.PadId, 0), tokenizer.EosId, options.DecoderStartTokenId);
    }

    public DataLoaderOptions Options { get; }

    /// <summary>Global batches per epoch.</summary>
    public long BatchesPerEpoch => Options.DropLast ? _examples.Count / Options.GlobalBatchSize
        : (_examples.Count + Options.GlobalBatchSize - 1) / Options.GlobalBatchSize;

    public DataCursor Start => DataCursor.Start(Options.Seed);

    /// <summary>
    /// Batches from <paramref name="from"/> on, produced in the background; <paramref name="maxBatches"/> bounds how
    /// many (null = until cancelled). Every batch carries the cursor that resumes after it.
    /// </summary>
    public async IAsyncEnumerable<Seq2SeqBatch> ReadAsync(DataCursor? from = null, long? maxBatches = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateBounded<Seq2SeqBatch>(new BoundedChannelOptions(Options.PrefetchBatches)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() => Produce(from ?? Start, maxBatches, channel.Writer, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var batch in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return batch;
        }
        finally
        {
            stop.Cancel();
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    private async Task Produce(DataCursor cursor, long? maxBatches, ChannelWriter<Seq2SeqBatch> writer, CancellationToken ct)
    {
        try
        {
            EpochPlan? plan = null;
            for (long produced = 0; maxBatches is null || produced < maxBatches; produced++)
            {
                ct.ThrowIfCancellationRequested();
                if (plan is null || plan.Epoch != cursor.Epoch)
                    plan = PlanEpoch(cursor);
                var batch = BuildBatch(plan, cursor);
                cursor = batch.Next!;
                await writer.WriteAsync(batch, ct).ConfigureAwait(false);
            }
            writer.Complete();
        }
        catch (Exception e)
        {
            writer.Complete(e);
        }
    }

    /// <summary>The batch at <paramref name="cursor"/>, built synchronously (what <see cref="ReadAsync"/> yields there).</summary>
    public Seq2SeqBatch GetBatch(DataCursor cursor) => BuildBatch(PlanEpoch(cursor), cursor);

    private EpochPlan PlanEpoch(DataCursor cursor)
    {
        if (cursor.Epoch < 0 || cursor.BatchIndex < 0)
            throw new ArgumentOutOfRangeException(nameof(cursor), $"data cursor {cursor} has a negative epoch or batch");
        if (cursor.BatchIndex > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(cursor), $"data cursor {cursor} is past the {BatchesPerEpoch} batches of an epoch (was the dataset or batch size changed?)");
        var last = _lastPlan;
        if (last is not null && last.Epoch == cursor.Epoch && last.Seed == cursor.Seed)
            return last;
        Func<int, int>? length = Options.BucketWindow > 0 ? i => _examples[i].Source.Length : null;
        return _lastPlan = new EpochPlan(_examples.Count, length, Options, cursor.Seed, cursor.Epoch);
    }

    private Seq2SeqBatch BuildBatch(EpochPlan plan, DataCursor cursor)
    {
        var (global, first, next) = RowsAt(plan, cursor);
        var indices = global.AsSpan(first, Options.InstanceBatchSize).ToArray();
        var sources = new int[indices.Length][];
        var targets = new int[indices.Length][];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.TokenizerThreads };
        Parallel.For(0, indices.Length, parallel, i =>
        {
            var example = _examples[(int)indices[i]];
            sources[i] = _tokenizer.Encode(example.Source);
            targets[i] = EncodeTarget(example.Target);
        });
        // the other instances' rows, in tokens: every instance pads to the global batch's shape
        var elsewhere = Options.InstanceCount == 1 ? null
            : TokenCounts([.. global.Take(first), .. global.Skip(first + indices.Length)]);
        return _builder.Build(sources, targets, indices, next, elsewhere);
    }

    /// <summary>
    /// The padded source and target lengths of the <paramref name="count"/> batches from <paramref name="from"/> on,
    /// as <see cref="ReadAsync"/> builds them (the global batch's, on every instance), counting tokens only: the shapes
    /// a static-shape device compiles before the first step.
    /// </summary>
    public IReadOnlyList<(int SourceLength, int TargetLength)> PaddedLengths(DataCursor from, long count)
    {
        ArgumentNullException.ThrowIfNull(from);
        var lengths = new List<(int, int)>();
        var cursor = from;
        EpochPlan? plan = null;
        for (long k = 0; k < count; k++)
        {
            if (plan is null || plan.Epoch != cursor.Epoch) plan = PlanEpoch(cursor);
            var (global, _, next) = RowsAt(plan, cursor);
            var counts = TokenCounts(global);
            lengths.Add((Options.SourcePadding.PaddedLength(counts.Max(n => n.Source)),
                Options.TargetPadding.PaddedLength(counts.Max(n => n.Target))));
            cursor = next;
        }
        return lengths;
    }

    /// <summary>The source and target tokens of each of these examples.</summary>
    private (int Source, int Target)[] TokenCounts(IReadOnlyList<long> indices)
    {
        var counted = new (int Source, int Target)[indices.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.TokenizerThreads };
        Parallel.For(0, indices.Count, parallel, i =>
        {
            var example = _examples[(int)indices[i]];
            counted[i] = (_tokenizer.Encode(example.Source).Length, EncodeTarget(example.Target).Length);
        });
        return counted;
    }

    /// <summary>
    /// The global batch at <paramref name="cursor"/>, where this instance's rows start in it, and the cursor after it.
    /// </summary>
    private (long[] Global, int First, DataCursor Next) RowsAt(EpochPlan plan, DataCursor cursor)
    {
        if (cursor.BatchIndex == plan.BatchCount)
        {
            cursor = cursor with { Epoch = cursor.Epoch + 1, BatchIndex = 0 };
            plan = PlanEpoch(cursor);
        }
        var rows = plan.GlobalBatch(cursor.BatchIndex);
        var global = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++) global[i] = rows[i];
        var next = cursor.BatchIndex + 1 == plan.BatchCount
            ? cursor with { Epoch = cursor.Epoch + 1, BatchIndex = 0 }
            : cursor with { BatchIndex = cursor.BatchIndex + 1 };
        return (global, Options.InstanceIndex * Options.InstanceBatchSize, next);
    }

    /// <summary>Targets repeat (three label words for MNLI), so their ids are cached; callers never mutate them.</summary>
    private int[] EncodeTarget(string target)
    {
        lock (_targetCacheLock)
        {
            if (_targetCache.TryGetValue(target, out var cached)) return cached;
        }
        var ids = _tokenizer.Encode(target);
        lock (_targetCacheLock)
        {
            if (_targetCache.Count < 4096) _targetCache[target] = ids;
        }
        return ids;
    }
}
