using System.Globalization;

namespace FlanT5.Poplar.Placement;

/// <summary>The serving memory plan of every IPU; says whether it fits and, when not, where and by how much.</summary>
public sealed record ServingMemoryReport(IReadOnlyList<ServingIpuMemory> Ipus)
{
    public bool Fits => Ipus.All(i => i.Fits);

    /// <summary>Highest on-chip use over all IPUs.</summary>
    public long PeakOnChip => Ipus.Max(i => i.Total);

    /// <summary>The IPU that overflows most (on-chip before streaming), or null when everything fits.</summary>
    public ServingIpuMemory? WorstOverflow =>
        Ipus.Where(i => !i.Fits)
            .OrderByDescending(i => i.OnChipOverflow)
            .ThenByDescending(i => i.StreamingOverflow)
            .ThenBy(i => i.Ipu)
            .FirstOrDefault();

    /// <summary>Null when the plan fits; otherwise which IPU overflows, needed against available bytes, and its largest tensors.</summary>
    public string? OverflowMessage
    {
        get
        {
            var worst = WorstOverflow;
            if (worst is null) return null;
            var what = worst.OnChipOverflow > 0
                ? $"needs {ByteSize.Format(worst.Total)} on-chip ({Exact(worst.Total)} bytes) but has {ByteSize.Format(worst.Capacity)} ({Exact(worst.Capacity)} bytes), " +
                  $"over by {ByteSize.Format(worst.OnChipOverflow)}: weights {ByteSize.Format(worst.Weights)}, KV cache {ByteSize.Format(worst.KvCache)}, " +
                  $"encoder output {ByteSize.Format(worst.EncoderOutput)}, working {ByteSize.Format(worst.WorkingSet)}, overhead {ByteSize.Format(worst.Overhead)}"
                : $"needs {ByteSize.Format(worst.StreamingUsed)} of streaming memory but has {ByteSize.Format(worst.StreamingCapacity)} (over by {ByteSize.Format(worst.StreamingOverflow)})";
            var largest = string.Join("; ", worst.LargestTensors.Take(3).Select(t => $"{t.Name} {ByteSize.Format(t.Bytes)}"));
            return $"{worst.Where} {what}; {Ipus.Count(i => !i.Fits)} of {Ipus.Count} IPUs overflow; largest tensors: {largest}";
        }
    }

    private static string Exact(long bytes) => bytes.ToString("N0", CultureInfo.InvariantCulture);
}
