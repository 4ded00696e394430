namespace FlanT5.Poplar.Interop;

/// <summary>
/// A micro-batch of token ids, row-major: InputIds and AttentionMask [BatchSize, SourceLength]; DecoderInputIds,
/// Labels and DecoderAttentionMask [BatchSize, TargetLength]. Empty optional arrays mean "absent" (all ones for the
/// masks, no loss without labels). The memory is pinned only for the duration of each native call.
/// </summary>
public sealed class TokenBatch
{
    public TokenBatch(int batchSize, int sourceLength, int targetLength,
        ReadOnlyMemory<int> inputIds, ReadOnlyMemory<int> decoderInputIds,
        ReadOnlyMemory<int> attentionMask = default, ReadOnlyMemory<int> labels = default,
        ReadOnlyMemory<int> decoderAttentionMask = default, bool training = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceLength);
        ArgumentOutOfRangeException.ThrowIfNegative(targetLength);
        var source = (long)batchSize * sourceLength;
        var target = (long)batchSize * targetLength;
        Require(inputIds, source, nameof(InputIds), "batch x source length", batchSize, sourceLength, optional: false);
        Require(attentionMask, source, nameof(AttentionMask), "batch x source length", batchSize, sourceLength, optional: true);
        Require(decoderInputIds, target, nameof(DecoderInputIds), "batch x target length", batchSize, targetLength, optional: false);
        Require(labels, target, nameof(Labels), "batch x target length", batchSize, targetLength, optional: true);
        Require(decoderAttentionMask, target, nameof(DecoderAttentionMask), "batch x target length", batchSize,
            targetLength, optional: true);
        BatchSize = batchSize;
        SourceLength = sourceLength;
        TargetLength = targetLength;
        InputIds = inputIds;
        DecoderInputIds = decoderInputIds;
        AttentionMask = attentionMask;
        Labels = labels;
        DecoderAttentionMask = decoderAttentionMask;
        Training = training;
    }

    public int BatchSize { get; }
    public int SourceLength { get; }
    public int TargetLength { get; }
    public ReadOnlyMemory<int> InputIds { get; }
    public ReadOnlyMemory<int> AttentionMask { get; }
    public ReadOnlyMemory<int> DecoderInputIds { get; }

    /// <summary>Targets; -100 = ignored. Empty: no loss.</summary>
    public ReadOnlyMemory<int> Labels { get; }

    public ReadOnlyMemory<int> DecoderAttentionMask { get; }

    /// <summary>A training call: dropout is active.</summary>
    public bool Training { get; }

    public bool HasLabels => !Labels.IsEmpty;

    private static void Require(ReadOnlyMemory<int> values, long expected, string name, string what, int rows, int columns,
        bool optional)
    {
        if (optional && values.IsEmpty) return;
        if (values.Length != expected)
        {
            throw new ArgumentException(
                $"TokenBatch.{name} has {values.Length} elements; expected {what} = {rows} x {columns} = {expected}" +
                (optional ? " (or none)" : ""), name);
        }
    }
}
