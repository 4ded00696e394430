using System.Numerics;
using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Training;

/// <summary>
/// Weights that hold NaN or infinity: no step can train them (every loss and gradient is then NaN) and no answer
/// generated from them means anything, so they are refused (<see cref="InvalidDataException"/>, a user error) where
/// they are loaded, and looked for when a training step comes out non-finite.
/// </summary>
public static class NonFiniteWeights
{
    /// <summary>Throws naming <paramref name="tensor"/> of <paramref name="what"/> when <paramref name="values"/> holds a
    /// NaN or an infinity.</summary>
    public static void ThrowIfAny(ReadOnlySpan<float> values, string tensor, string what)
    {
        int first = FirstNonFinite(values);
        if (first < 0) return;
        int count = 0;
        foreach (var v in values[first..]) if (!float.IsFinite(v)) count++;
        throw new InvalidDataException(
            $"{what}: tensor '{tensor}' is not finite ({values[first]} at element {first}; {count} of {values.Length} values are NaN or infinite)");
    }

    /// <summary>Index of the first NaN or infinity, or -1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            // x·0 is 0 for every finite x and NaN for NaN and ±∞: one multiply-add per lane finds out whether a block is clean.
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
            const int block = 1024;
            for (int start = 0; start < vectors.Length; start += block)
            {
                var sum = Vector<float>.Zero;
                int end = Math.Min(vectors.Length, start + block);
                for (int v = start; v < end; v++) sum += vectors[v] * Vector<float>.Zero;
                if (Vector.EqualsAll(sum, Vector<float>.Zero))
                {
                    i = end * Vector<float>.Count;
                    continue;
                }
                for (int k = start * Vector<float>.Count; k < end * Vector<float>.Count; k++)
                    if (!float.IsFinite(values[k])) return k;
            }
        }
        for (; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
