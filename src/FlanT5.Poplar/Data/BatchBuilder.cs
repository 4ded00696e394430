using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Data;

/// <summary>
/// Builds <see cref="Seq2SeqBatch"/>es from tokenized rows as the reference run does: sources and targets padded
/// (and truncated, eos kept) by their <see cref="PaddingOptions"/>; <c>decoder_input_ids = [start] + padded_target[:-1]</c>
/// built before the labels' padding becomes -100.
/// </summary>
public sealed class BatchBuilder
{
    public BatchBuilder(PaddingOptions sourcePadding, PaddingOptions targetPadding, int padId = 0, int eosId = 1, int decoderStartId = 0)
    {
        sourcePadding.Validate(nameof(sourcePadding));
        targetPadding.Validate(nameof(targetPadding));
        SourcePadding = sourcePadding;
        TargetPadding = targetPadding;
        PadId = padId;
        EosId = eosId;
        DecoderStartId = decoderStartId;
    }

    /// <summary>The reference run's shapes: encoder and decoder both padded to 512 (T5's pad 0, eos 1, start 0).</summary>
    public static BatchBuilder Reference(int length = 512) => new(PaddingOptions.Fixed(length), PaddingOptions.Fixed(length));

    public PaddingOptions SourcePadding { get; }
    public PaddingOptions TargetPadding { get; }
    public int PadId { get; }
    public int EosId { get; }
    public int DecoderStartId { get; }

    /// <summary>
    /// The batch of these rows. <paramref name="elsewhere"/>: the token counts of the global batch's rows that other
    /// host instances hold; the rows pad as the whole global batch would, so every instance runs the same shape, and
    /// the truncation counts and longest source are the global batch's.
    /// </summary>
    public Seq2SeqBatch Build(IReadOnlyList<int[]> sourceIds, IReadOnlyList<int[]> targetIds, long[]? exampleIndices = null,
        DataCursor? next = null, IReadOnlyList<(int Source, int Target)>? elsewhere = null)
    {
        if (sourceIds.Count != targetIds.Count)
            throw new ArgumentException($"{sourceIds.Count} sources but {targetIds.Count} targets");
        elsewhere ??= [];
        int longestSourceElsewhere = elsewhere.Count == 0 ? 0 : elsewhere.Max(r => r.Source);
        int longestTargetElsewhere = elsewhere.Count == 0 ? 0 : elsewhere.Max(r => r.Target);
        var source = T5Tokenizer.Pad(sourceIds, SourcePadding, PadId, EosId, "source row", longestSourceElsewhere);
        var target = T5Tokenizer.Pad(targetIds, TargetPadding, PadId, EosId, "target row", longestTargetElsewhere);
        int rows = sourceIds.Count, t = target.Length;

        var decoderInputs = new int[rows * t];
        var labels = target.InputIds; // owned: T5Tokenizer.Pad allocated it for this batch
        for (int r = 0; r < rows; r++)
        {
            var padded = labels.AsSpan(r * t, t);
            var shifted = decoderInputs.AsSpan(r * t, t);
            if (t > 0)
            {
                shifted[0] = DecoderStartId;
                padded[..^1].CopyTo(shifted[1..]);
            }
            var mask = target.MaskRow(r);
            for (int j = 0; j < t; j++)
                if (mask[j] == 0) padded[j] = Seq2SeqBatch.IgnoreIndex;
        }
        return new Seq2SeqBatch
        {
            Rows = rows,
            SourceLength = source.Length,
            TargetLength = t,
            InputIds = source.InputIds,
            AttentionMask = source.AttentionMask,
            DecoderInputIds = decoderInputs,
            Labels = labels,
            ExampleIndices = exampleIndices ?? Enumerable.Repeat(-1L, rows).ToArray(),
            TruncatedSources = sourceIds.Count(r => r.Length > SourcePadding.MaxTokens) + elsewhere.Count(r => r.Source > SourcePadding.MaxTokens),
            TruncatedTargets = targetIds.Count(r => r.Length > TargetPadding.MaxTokens) + elsewhere.Count(r => r.Target > TargetPadding.MaxTokens),
            LongestSource = Math.Max(sourceIds.Count == 0 ? 0 : sourceIds.Max(r => r.Length), longestSourceElsewhere),
            Next = next,
        };
    }
}
