namespace FlanT5.Poplar.Cli.Parity;

/// <summary>One comparison against a reference: the error and the bound it must stay within.</summary>
public sealed record ParityRow(string Check, double Error, double Bound, string Measure)
{
    public bool Passed => Error <= Bound && !double.IsNaN(Error);

    /// <summary>‖a − b‖ / ‖b‖ over two equally long vectors (float64 accumulation).</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        var widened = new double[actual.Length];
        for (int i = 0; i < actual.Length; i++) widened[i] = actual[i];
        return RelativeError(widened, expected);
    }

    /// <summary>‖a − b‖ / ‖b‖ over two equally long vectors.</summary>
    public static double RelativeError(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected)
    {
        if (actual.Length != expected.Length)
            throw new ArgumentException($"lengths differ: {actual.Length} vs {expected.Length}");
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += expected[i] * expected[i];
        }
        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    /// <summary>Rows of an id matrix that differ (0 = identical).</summary>
    public static int MismatchedRows(ReadOnlySpan<int> actual, ReadOnlySpan<int> expected, int rowLength)
    {
        if (actual.Length != expected.Length) return int.MaxValue;
        int bad = 0;
        for (int r = 0; r < actual.Length / rowLength; r++)
            if (!actual.Slice(r * rowLength, rowLength).SequenceEqual(expected.Slice(r * rowLength, rowLength))) bad++;
        return bad;
    }
}
