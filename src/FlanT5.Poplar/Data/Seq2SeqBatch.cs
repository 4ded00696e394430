namespace FlanT5.Poplar.Data;

/// <summary>
/// One padded encoder/decoder batch, row-major: <see cref="InputIds"/> and <see cref="AttentionMask"/> are
/// [Rows, SourceLength]; <see cref="DecoderInputIds"/> and <see cref="Labels"/> are [Rows, TargetLength]. Labels hold
/// -100 (<see cref="IgnoreIndex"/>) at padding; decoder inputs are the padded targets shifted right after the start token.
/// </summary>
public sealed class Seq2SeqBatch
{
    public const int IgnoreIndex = -100;

    public required int Rows { get; init; }
    public required int SourceLength { get; init; }
    public required int TargetLength { get; init; }
    public required int[] InputIds { get; init; }
    public required int[] AttentionMask { get; init; }
    public required int[] DecoderInputIds { get; init; }
    public required int[] Labels { get; init; }

    /// <summary>The dataset index of each row (-1 when the batch was built from loose rows).</summary>
    public long[] ExampleIndices { get; init; } = [];

    /// <summary>Rows whose source was longer than the source length and was cut (eos kept); with several host
    /// instances, those of the whole global batch, as are <see cref="TruncatedTargets"/> and <see cref="LongestSource"/>.</summary>
    public int TruncatedSources { get; init; }

    /// <summary>Rows whose target was longer than the target length and was cut.</summary>
    public int TruncatedTargets { get; init; }

    /// <summary>The longest source of the batch in tokens, before any cut.</summary>
    public int LongestSource { get; init; }

    /// <summary>The loader position after this batch: save it in a checkpoint to resume with the next batch.</summary>
    public DataCursor? Next { get; init; }

    public ReadOnlySpan<int> InputRow(int row) => InputIds.AsSpan(row * SourceLength, SourceLength);
    public ReadOnlySpan<int> MaskRow(int row) => AttentionMask.AsSpan(row * SourceLength, SourceLength);
    public ReadOnlySpan<int> DecoderInputRow(int row) => DecoderInputIds.AsSpan(row * TargetLength, TargetLength);
    public ReadOnlySpan<int> LabelRow(int row) => Labels.AsSpan(row * TargetLength, TargetLength);
}
