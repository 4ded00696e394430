namespace FlanT5.Poplar.Data;

/// <summary>Reads the examples of one dataset file. MNLI has three layouts; other datasets plug in here too.</summary>
public interface IDatasetReader<TExample>
{
    /// <summary>Reads every example of <paramref name="path"/>; throws <see cref="DatasetFormatException"/> on bad input.</summary>
    DatasetReadResult<TExample> Read(string path);
}

/// <summary>What a reader does with malformed rows.</summary>
public sealed record DatasetReadOptions
{
    /// <summary>Count and report malformed rows instead of failing on the first one.</summary>
    public bool SkipBadRows { get; init; }

    /// <summary>At most this many skipped rows are described in <see cref="DatasetReadResult{T}.BadRows"/>.</summary>
    public int MaxReportedBadRows { get; init; } = 20;
}

/// <summary>The examples of a file and what was left out.</summary>
public sealed class DatasetReadResult<TExample>
{
    public required string Path { get; init; }
    public required IReadOnlyList<TExample> Examples { get; init; }

    /// <summary>Rows without a gold label (MNLI's <c>-</c>; label -1 in parquet), skipped as every MNLI loader does.</summary>
    public int SkippedNoGoldLabel { get; init; }

    /// <summary>Malformed rows skipped because <see cref="DatasetReadOptions.SkipBadRows"/> was set.</summary>
    public int SkippedBadRows { get; init; }

    /// <summary>Descriptions ("file:line N: why") of the first skipped malformed rows.</summary>
    public IReadOnlyList<string> BadRows { get; init; } = [];

    public override string ToString() =>
        $"{Path}: {Examples.Count} examples, {SkippedNoGoldLabel} without gold label skipped, {SkippedBadRows} malformed rows skipped";
}

/// <summary>A dataset file that cannot be read: names the file and, when it is about one row, the line or row index.</summary>
public sealed class DatasetFormatException : FormatException
{
    public DatasetFormatException(string path, string location, string problem, Exception? inner = null)
        : base(location.Length == 0 ? $"{path}: {problem}" : $"{path}:{location}: {problem}", inner)
    {
        FilePath = path;
        Location = location;
        Problem = problem;
    }

    public string FilePath { get; }

    /// <summary>"line N" or "row N"; empty for a problem with the whole file.</summary>
    public string Location { get; }

    public string Problem { get; }
}

/// <summary>Collects examples and skipped rows while a reader runs, applying <see cref="DatasetReadOptions"/>.</summary>
internal sealed class DatasetReadCollector<TExample>(string path, DatasetReadOptions options)
{
    private readonly List<TExample> _examples = [];
    private readonly List<string> _badRows = [];
    private int _noGold, _bad;

    public void Add(TExample example) => _examples.Add(example);

    public void SkipNoGold() => _noGold++;

    /// <summary>A malformed row: throws unless bad rows are skipped.</summary>
    public void Bad(string location, string problem)
    {
        var error = new DatasetFormatException(path, location, problem);
        if (!options.SkipBadRows)
            throw error;
        _bad++;
        if (_badRows.Count < options.MaxReportedBadRows)
            _badRows.Add(error.Message);
    }

    public DatasetReadResult<TExample> Finish(string whatIsMissing)
    {
        if (_examples.Count == 0 && _noGold == 0 && _bad == 0)
            throw new DatasetFormatException(path, "", $"no examples: {whatIsMissing}");
        return new DatasetReadResult<TExample>
        {
            Path = path,
            Examples = _examples,
            SkippedNoGoldLabel = _noGold,
            SkippedBadRows = _bad,
            BadRows = _badRows,
        };
    }
}
