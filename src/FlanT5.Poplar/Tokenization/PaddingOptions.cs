namespace FlanT5.Poplar.Tokenization;

/// <summary>How the rows of a batch get their common length.</summary>
public enum PaddingMode
{
    /// <summary>Pad to the longest row of the batch (rounded up to <see cref="PaddingOptions.MultipleOf"/>).</summary>
    Longest,
    /// <summary>Pad every row to <see cref="PaddingOptions.Length"/> (for example 512, as the reference run does).</summary>
    Fixed,
}

/// <summary>Padding and truncation of one side (encoder or decoder) of a batch.</summary>
public sealed record PaddingOptions
{
    public PaddingMode Mode { get; init; } = PaddingMode.Longest;

    /// <summary>Fixed: the padded length. Longest: the most tokens a row may have (0 = no limit).</summary>
    public int Length { get; init; }

    /// <summary>The padded length is rounded up to a multiple of this (1 = no rounding).</summary>
    public int MultipleOf { get; init; } = 1;

    /// <summary>
    /// Rows longer than <see cref="Length"/> are cut, keeping eos last as Hugging Face does; when false such a row is
    /// an error naming it.
    /// </summary>
    public bool Truncate { get; init; } = true;

    public static PaddingOptions Longest(int multipleOf = 1, int maxLength = 0) =>
        new() { Mode = PaddingMode.Longest, MultipleOf = multipleOf, Length = maxLength };

    public static PaddingOptions Fixed(int length, bool truncate = true) =>
        new() { Mode = PaddingMode.Fixed, Length = length, Truncate = truncate };

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
    }

    /// <summary>The padded length for rows whose longest has <paramref name="longest"/> tokens.</summary>
    public int PaddedLength(int longest)
    {
        int length = Mode == PaddingMode.Fixed ? Length : longest;
        if (MultipleOf > 1)
            length = (length + MultipleOf - 1) / MultipleOf * MultipleOf;
        return length;
    }
}
