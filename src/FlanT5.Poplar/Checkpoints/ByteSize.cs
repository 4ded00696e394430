using System.Globalization;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>Parses sizes as Hugging Face's max_shard_size does: "5GB" = 5·10⁹, "5GiB" = 5·2³⁰, plain numbers are bytes.</summary>
public static class ByteSize
{
    public static long Parse(string text)
    {
        var s = text.Trim();
        (string Suffix, long Factor)[] units =
        [
            ("KIB", 1L << 10), ("MIB", 1L << 20), ("GIB", 1L << 30), ("TIB", 1L << 40),
            ("KB", 1_000L), ("MB", 1_000_000L), ("GB", 1_000_000_000L), ("TB", 1_000_000_000_000L), ("B", 1L),
        ];
        foreach (var (suffix, factor) in units)
        {
            if (!s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            var number = s[..^suffix.Length].Trim();
            if (decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                // decimal holds up to 7.9e28: a number that large times the unit overflows it, and is too large anyway.
                if (value > long.MaxValue / factor) throw new FormatException($"size '{text}' is too large (the most is {long.MaxValue} bytes)");
                var bytes = value * factor;
                if (bytes >= 1) return (long)bytes;
            }
            throw new FormatException($"size '{text}' is not a positive number of {suffix}");
        }
        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var plain) && plain > 0) return plain;
        throw new FormatException($"size '{text}' is not understood; expected e.g. 5GB, 200MB, 10KB or a byte count");
    }
}
