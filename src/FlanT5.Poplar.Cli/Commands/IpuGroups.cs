namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// The rows of a per-IPU table: IPUs with the same numbers share a row. With Poplar's numbering the IPUs of one
/// pipeline stage are every pp-th IPU, so a row's IPUs need not be consecutive ("0,4..12" is 0, 4, 8 and 12).
/// </summary>
internal static class IpuGroups
{
    /// <summary>The groups of equal entries (by <paramref name="same"/>), in the order of their first IPU.</summary>
    public static List<List<int>> Of<T>(IReadOnlyList<T> ipus, Func<T, T, bool> same)
    {
        var groups = new List<List<int>>();
        for (var i = 0; i < ipus.Count; i++)
        {
            var group = groups.FirstOrDefault(g => same(ipus[g[0]], ipus[i]));
            if (group is null) groups.Add([i]);
            else group.Add(i);
        }
        return groups;
    }

    /// <summary>"3", "0-15" (consecutive), "0,4..12" (a constant stride), else the IPUs joined by commas.</summary>
    public static string Format(IReadOnlyList<int> ipus)
    {
        if (ipus.Count == 1) return $"{ipus[0]}";
        var stride = ipus[1] - ipus[0];
        var constant = Enumerable.Range(1, ipus.Count - 1).All(k => ipus[k] - ipus[k - 1] == stride);
        if (!constant || ipus.Count == 2 && stride > 1) return string.Join(",", ipus);
        return stride == 1 ? $"{ipus[0]}-{ipus[^1]}" : $"{ipus[0]},{ipus[1]}..{ipus[^1]}";
    }
}
