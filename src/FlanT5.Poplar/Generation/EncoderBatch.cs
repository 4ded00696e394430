namespace FlanT5.Poplar.Generation;

/// <summary>A padded batch of encoder inputs: row-major [Batch, SrcLen] ids and attention mask (1 = token, 0 = pad).</summary>
public sealed class EncoderBatch
{
    public EncoderBatch(int[] inputIds, int[] attentionMask, int batch, int srcLen)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (batch < 1 || srcLen < 1)
            throw new ArgumentException($"an encoder batch needs at least one row and one token, got [{batch}, {srcLen}].");
        if (inputIds.Length != batch * srcLen)
            throw new ArgumentException(
                $"input ids hold {inputIds.Length} values, expected batch {batch} x src_len {srcLen} = {batch * srcLen}.",
                nameof(inputIds));
        if (attentionMask.Length != batch * srcLen)
            throw new ArgumentException(
                $"attention mask holds {attentionMask.Length} values, expected batch {batch} x src_len {srcLen} = {batch * srcLen}.",
                nameof(attentionMask));
        for (int i = 0; i < attentionMask.Length; i++)
        {
            if (attentionMask[i] is not (0 or 1))
                throw new ArgumentException(
                    $"attention mask row {i / srcLen} position {i % srcLen} is {attentionMask[i]}, expected 0 or 1.",
                    nameof(attentionMask));
        }

        InputIds = inputIds;
        AttentionMask = attentionMask;
        Batch = batch;
        SrcLen = srcLen;
    }

    public int[] InputIds { get; }

    public int[] AttentionMask { get; }

    public int Batch { get; }

    public int SrcLen { get; }

    /// <summary>Right-pads <paramref name="rows"/> with <paramref name="padId"/> to the longest, as a tokenizer's
    /// <c>padding=True</c> does, or to <paramref name="length"/> when that is longer.</summary>
    public static EncoderBatch Pad(IReadOnlyList<int[]> rows, int padId, int length = 0)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
            throw new ArgumentException("cannot build an encoder batch from zero rows.", nameof(rows));
        int srcLen = 0;
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length == 0)
                throw new ArgumentException($"row {r} has no tokens.", nameof(rows));
            srcLen = Math.Max(srcLen, rows[r].Length);
        }
        srcLen = Math.Max(srcLen, length);

        var ids = new int[rows.Count * srcLen];
        var mask = new int[rows.Count * srcLen];
        for (int r = 0; r < rows.Count; r++)
        {
            ids.AsSpan(r * srcLen, srcLen).Fill(padId);
            rows[r].CopyTo(ids.AsSpan(r * srcLen));
            mask.AsSpan(r * srcLen, rows[r].Length).Fill(1);
        }

        return new EncoderBatch(ids, mask, rows.Count, srcLen);
    }
}
