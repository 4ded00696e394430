using System.Globalization;

namespace FlanT5.Poplar.Placement;

/// <summary>Decimal byte sizes (kB, MB, GB), as the IPU datasheets count ("900 MB" = 940,572,672 bytes ≈ 940.6 MB).</summary>
public static class ByteSize
{
    public static string Format(long bytes)
    {
        var b = (double)bytes;
        var abs = Math.Abs(b);
        return abs switch
        {
            >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{b / 1e9:0.00} GB"),
            >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{b / 1e6:0.0} MB"),
            >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{b / 1e3:0.0} kB"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        };
    }
}
