using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Data;

/// <summary>
/// Batching, shuffling and sharding of a <see cref="DataLoader"/>. A global batch holds
/// <see cref="BatchSize"/> × <see cref="ReplicasPerInstance"/> × <see cref="InstanceCount"/> rows; host instance h takes
/// its contiguous slice, and within it replica r takes rows [r·BatchSize, (r+1)·BatchSize).
/// </summary>
public sealed record DataLoaderOptions
{
    /// <summary>Rows one data-parallel replica consumes per step (micro batch × gradient accumulation).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Data-parallel replicas driven by this host instance.</summary>
    public int ReplicasPerInstance { get; init; } = 1;

    /// <summary>This host instance (poprun / MPI rank) and how many there are.</summary>
    public int InstanceIndex { get; init; }
    public int InstanceCount { get; init; } = 1;

    /// <summary>Shuffle seed (the reference run uses 47); every instance must use the same one.</summary>
    public int Seed { get; init; } = 47;
    public bool Shuffle { get; init; } = true;

    /// <summary>Drop the last incomplete global batch; otherwise it is completed from the start of the epoch's order.</summary>
    public bool DropLast { get; init; } = true;

    /// <summary>
    /// Length bucketing: 0 = off; otherwise this many global batches of the shuffled order are sorted together by source
    /// length (in characters, a cheap proxy for tokens that needs no tokenization up front) and cut into batches of
    /// similar length, whose order is shuffled again.
    /// </summary>
    public int BucketWindow { get; init; }

    /// <summary>Batches the background producer may have ready ahead of the consumer.</summary>
    public int PrefetchBatches { get; init; } = 4;

    /// <summary>Threads that tokenize a batch (default: every core).</summary>
    public int TokenizerThreads { get; init; } = Environment.ProcessorCount;

    /// <summary>The decoder's start token (config.json <c>decoder_start_token_id</c>; 0 for T5).</summary>
    public int DecoderStartTokenId { get; init; }

    public PaddingOptions SourcePadding { get; init; } = PaddingOptions.Longest(maxLength: 512);
    public PaddingOptions TargetPadding { get; init; } = PaddingOptions.Longest(maxLength: 512);

    public int GlobalBatchSize => BatchSize * ReplicasPerInstance * InstanceCount;
    public int InstanceBatchSize => BatchSize * ReplicasPerInstance;

    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), $"BatchSize must be at least 1, got {BatchSize}");
        if (ReplicasPerInstance < 1) throw new ArgumentOutOfRangeException(nameof(ReplicasPerInstance), $"ReplicasPerInstance must be at least 1, got {ReplicasPerInstance}");
        if (InstanceCount < 1) throw new ArgumentOutOfRangeException(nameof(InstanceCount), $"InstanceCount must be at least 1, got {InstanceCount}");
        if (InstanceIndex < 0 || InstanceIndex >= InstanceCount)
            throw new ArgumentOutOfRangeException(nameof(InstanceIndex), $"InstanceIndex {InstanceIndex} is outside 0..{InstanceCount - 1}");
        if (BucketWindow < 0) throw new ArgumentOutOfRangeException(nameof(BucketWindow), $"BucketWindow must not be negative, got {BucketWindow}");
        if (PrefetchBatches < 1) throw new ArgumentOutOfRangeException(nameof(PrefetchBatches), $"PrefetchBatches must be at least 1, got {PrefetchBatches}");
        if (DecoderStartTokenId < 0) throw new ArgumentOutOfRangeException(nameof(DecoderStartTokenId), $"DecoderStartTokenId must not be negative, got {DecoderStartTokenId}");
        if (TokenizerThreads < 1) throw new ArgumentOutOfRangeException(nameof(TokenizerThreads), $"TokenizerThreads must be at least 1, got {TokenizerThreads}");
        SourcePadding.Validate(nameof(SourcePadding));
        TargetPadding.Validate(nameof(TargetPadding));
    }
}
