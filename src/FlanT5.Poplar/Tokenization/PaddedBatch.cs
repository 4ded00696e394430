namespace FlanT5.Poplar.Tokenization;

/// <summary>Token ids of several texts padded to one length: row-major [Rows, Length] arrays.</summary>
public sealed class PaddedBatch
{
    public PaddedBatch(int rows, int length, int[] inputIds, int[] attentionMask)
    {
        if (inputIds.Length != rows * length || attentionMask.Length != rows * length)
            throw new ArgumentException($"expected {rows}×{length} ids and mask, got {inputIds.Length} and {attentionMask.Length}");
        Rows = rows;
        Length = length;
        InputIds = inputIds;
        AttentionMask = attentionMask;
    }

    public int Rows { get; }
    public int Length { get; }
    public int[] InputIds { get; }

    /// <summary>1 for a real token, 0 for padding.</summary>
    public int[] AttentionMask { get; }

    public ReadOnlySpan<int> Row(int row) => InputIds.AsSpan(row * Length, Length);
    public ReadOnlySpan<int> MaskRow(int row) => AttentionMask.AsSpan(row * Length, Length);
}
