namespace FlanT5.Poplar.Tokenization;

/// <summary>How the rows of a batch get their common length.</summary>
public enum PaddingMode
{
    /// <summary>Pad to the longest row of the batch (rounded up to <see cref="PaddingOptions.MultipleOf"/>).</summary>
    Longest,
    /// <summary>Pad every row to <see cref="PaddingOptions.Length"/> (for example 512, as the reference run does).</summary>
    Fixed,
    /// <summary>
    /// Pad to the smallest of <see cref="PaddingOptions.Buckets"/> that holds the longest row: a static-shape device
    /// holds one program per bucket.
    /// </summary>
    Bucketed,
}

/// <summary>Padding and truncation of one side (encoder or decoder) of a batch.</summary>
public sealed record PaddingOptions
{
    public PaddingMode Mode { get; init; } = PaddingMode.Longest;

    /// <summary>Fixed: the padded length. Longest: the most tokens a row may have (0 = no limit).</summary>
    public int Length { get; init; }

    /// <summary>The padded length is rounded up to a multiple of this (1 = no rounding).</summary>
    public int MultipleOf { get; init; } = 1;

    /// <summary>Bucketed: the lengths a batch may pad to, ascending; the last is <see cref="Length"/>.</summary>
    public IReadOnlyList<int> Buckets { get; init; } = [];

    /// <summary>
    /// Rows longer than <see cref="Length"/> are cut, keeping eos last as Hugging Face does; when false such a row is
    /// an error naming it.
    /// </summary>
    public bool Truncate { get; init; } = true;

    public static PaddingOptions Longest(int multipleOf = 1, int maxLength = 0) =>
        new() { Mode = PaddingMode.Longest, MultipleOf = multipleOf, Length = maxLength };

    public static PaddingOptions Fixed(int length, bool truncate = true) =>
        new() { Mode = PaddingMode.Fixed, Length = length, Truncate = truncate };

    /// <summary>Rows pad to the smallest bucket that holds the longest; rows longer than the last are cut.</summary>
    public static PaddingOptions Bucketed(IReadOnlyList<int> buckets) =>
        new() { Mode = PaddingMode.Bucketed, Buckets = buckets, Length = buckets.Count > 0 ? buckets[^1] : 0 };

    /// <summary>
    /// Buckets of the powers of two below <paramref name="length"/> and <paramref name="length"/> itself: the shapes a
    /// static-shape device rounds a batch to, capped at the model's length.
    /// </summary>
    public static PaddingOptions PowerOfTwoBuckets(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), $"length must be at least 1, got {length}");
        var buckets = new List<int>();
        for (int b = 1; b < length; b *= 2) buckets.Add(b);
        buckets.Add(length);
        return Bucketed(buckets);
    }

    /// <summary>The padding of a side whose rows may have up to <paramref name="length"/> tokens.</summary>
    public static PaddingOptions Of(PaddingMode mode, int length) => mode switch
    {
        PaddingMode.Bucketed => PowerOfTwoBuckets(length),
        PaddingMode.Fixed => Fixed(length),
        PaddingMode.Longest => Longest(maxLength: length),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), $"unknown padding mode {mode}"),
    };

    /// <summary>The most tokens a row may keep, or <see cref="int.MaxValue"/>.</summary>
    public int MaxTokens => Length > 0 ? Length : int.MaxValue;

    /// <summary>Throws when the options cannot describe a padding.</summary>
    public void Validate(string name)
    {
        if (MultipleOf < 1)
            throw new ArgumentOutOfRangeException(name, $"{name}: MultipleOf must be at least 1, got {MultipleOf}");
        if (Length < 0)
            throw new ArgumentOutOfRangeException(name, $"{name}: Length must not be negative, got {Length}");
        if (Mode == PaddingMode.Fixed && Length == 0)
            throw new ArgumentOutOfRangeException(name, $"{name}: fixed padding needs a Length above 0");
        if (Mode != PaddingMode.Bucketed) return;
        if (Buckets.Count == 0)
            throw new ArgumentOutOfRangeException(name, $"{name}: bucketed padding needs at least one bucket");
        for (int i = 0; i < Buckets.Count; i++)
            if (Buckets[i] < 1 || (i > 0 && Buckets[i] <= Buckets[i - 1]))
                throw new ArgumentOutOfRangeException(name, $"{name}: buckets must be positive and ascending, got [{string.Join(", ", Buckets)}]");
        if (Length != Buckets[^1])
            throw new ArgumentOutOfRangeException(name, $"{name}: the last bucket ({Buckets[^1]}) must be Length ({Length})");
    }

    /// <summary>The padded length for rows whose longest has <paramref name="longest"/> tokens (cut at
    /// <see cref="MaxTokens"/>).</summary>
    public int PaddedLength(int longest)
    {
        longest = Math.Min(longest, MaxTokens);
        if (Mode == PaddingMode.Bucketed)
            return Buckets.First(b => b >= longest);
        int length = Mode == PaddingMode.Fixed ? Length : longest;
        if (MultipleOf > 1)
            length = (length + MultipleOf - 1) / MultipleOf * MultipleOf;
        return length;
    }
}
