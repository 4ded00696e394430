using System.Globalization;

namespace FlanT5.Poplar.Data;

/// <summary>
/// A resumable data position for checkpoints: the next global batch is number <see cref="BatchIndex"/> of
/// <see cref="Epoch"/>, whose order is fixed by <see cref="Seed"/>. Restoring it gives the same batches, bit for bit.
/// </summary>
public sealed record DataCursor(int Epoch, long BatchIndex, int Seed)
{
    public static DataCursor Start(int seed) => new(0, 0, seed);

    /// <summary>"epoch:batch:seed", as stored in a checkpoint manifest.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Epoch}:{BatchIndex}:{Seed}");

    public static DataCursor Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int epoch)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long batch)
            && int.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int seed))
            return new DataCursor(epoch, batch, seed);
        throw new FormatException($"'{text}' is not a data cursor (expected epoch:batch:seed, e.g. 0:12:47)");
    }
}
