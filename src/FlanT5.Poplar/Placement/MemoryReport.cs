namespace FlanT5.Poplar.Placement;

/// <summary>The memory plan of every IPU; says whether the plan fits and, when not, where and by how much.</summary>
public sealed record MemoryReport(IReadOnlyList<IpuMemory> Ipus)
{
    public bool Fits => Ipus.All(i => i.Fits);

    /// <summary>The IPU that overflows most (on-chip before streaming), or null when everything fits.</summary>
    public IpuMemory? WorstOverflow =>
        Ipus.Where(i => !i.Fits)
            .OrderByDescending(i => i.OnChipOverflow)
            .ThenByDescending(i => i.StreamingOverflow)
            .ThenBy(i => i.Ipu)
            .FirstOrDefault();

    /// <summary>Highest on-chip use over all IPUs.</summary>
    public long PeakOnChip => Ipus.Max(i => i.Total);

    /// <summary>Null when the plan fits; otherwise which IPU overflows, by how much, and its largest tensors.</summary>
    public string? OverflowMessage
    {
        get
        {
            var worst = WorstOverflow;
            if (worst is null) return null;
            var count = Ipus.Count(i => !i.Fits);
            var what = worst.OnChipOverflow > 0
                ? $"needs {ByteSize.Format(worst.Total)} on-chip but has {ByteSize.Format(worst.Capacity)} (over by {ByteSize.Format(worst.OnChipOverflow)}: " +
                  $"weights {ByteSize.Format(worst.Weights)}, gradients {ByteSize.Format(worst.Gradients)}, optimizer {ByteSize.Format(worst.OptimizerState)}, " +
                  $"activations {ByteSize.Format(worst.Activations)}, working {ByteSize.Format(worst.WorkingSet)}, overhead {ByteSize.Format(worst.Overhead)})"
                : $"needs {ByteSize.Format(worst.StreamingUsed)} of streaming memory but has {ByteSize.Format(worst.StreamingCapacity)} (over by {ByteSize.Format(worst.StreamingOverflow)})";
            var largest = string.Join("; ", worst.LargestTensors.Take(3).Select(t => $"{t.Name} {ByteSize.Format(t.Bytes)}"));
            return $"{worst.Where} {what}; {count} of {Ipus.Count} IPUs overflow; largest tensors: {largest}";
        }
    }
}
