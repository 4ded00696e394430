namespace FlanT5.Poplar.Data;

/// <summary>
/// SplitMix64: a small generator whose sequence is fixed by its seed on every runtime and machine (System.Random's
/// seeded sequence is not a documented contract), so shuffles are reproducible across hosts and resumes.
/// </summary>
internal struct SeededRandom(ulong seed)
{
    private ulong _state = seed;

    public static SeededRandom For(int seed, int epoch, ulong stream = 0) =>
        new(((ulong)(uint)seed << 32 | (uint)epoch) ^ (stream * 0xD1B54A32D192ED03UL));

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for the sizes used here).</summary>
    public int Next(int n) => (int)(((NextUInt64() >> 32) * (ulong)(uint)n) >> 32);

    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
