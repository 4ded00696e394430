using System.Text.Unicode;

namespace FlanT5.Poplar.Data;

/// <summary>
/// GLUE's MNLI TSV (train.tsv, dev_matched.tsv, ...): tab-separated, no quoting, a header row; the columns are found
/// by name (<c>sentence1</c> = premise, <c>sentence2</c> = hypothesis, <c>gold_label</c>), so extra columns such as the
/// dev files' five annotator labels do not matter.
/// </summary>
public sealed class GlueTsvReader(DatasetReadOptions? options = null) : IDatasetReader<MnliExample>
{
    private readonly DatasetReadOptions _options = options ?? new DatasetReadOptions();

    public const string PremiseColumn = "sentence1", HypothesisColumn = "sentence2", LabelColumn = "gold_label";

    public DatasetReadResult<MnliExample> Read(string path)
    {
        using var lines = MnliReader.OpenLines(path);
        if (!lines.TryReadLine(out var headerBytes))
            throw new DatasetFormatException(path, "", "the file is empty (expected a GLUE MNLI header row)");
        string[] header;
        try
        {
            header = Utf8LineReader.Decode(headerBytes).Split('\t');
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new DatasetFormatException(path, "line 1", "the header is not valid UTF-8");
        }
        int premise = Column(header, PremiseColumn, path), hypothesis = Column(header, HypothesisColumn, path),
            label = Column(header, LabelColumn, path);

        var collector = new DatasetReadCollector<MnliExample>(path, _options);
        Span<Range> fields = stackalloc Range[header.Length + 1];
        while (lines.TryReadLine(out var line))
        {
            if (line.IsEmpty) continue;
            string location = $"line {lines.LineNumber}";
            if (!Utf8.IsValid(line))
            {
                collector.Bad(location, "invalid UTF-8");
                continue;
            }
            int count = SplitTabs(line, fields);
            if (count != header.Length)
            {
                collector.Bad(location, $"expected {header.Length} tab-separated fields as in the header, found {(count > header.Length ? "more" : count.ToString())}");
                continue;
            }
            string goldLabel = Utf8LineReader.Decode(line[fields[label]]);
            if (goldLabel == NliLabels.NoGoldLabel)
            {
                collector.SkipNoGold();
                continue;
            }
            if (!NliLabels.TryParse(goldLabel, out var nli))
            {
                collector.Bad(location, $"unknown gold_label '{goldLabel}' (expected entailment, neutral, contradiction or -)");
                continue;
            }
            collector.Add(new MnliExample(Utf8LineReader.Decode(line[fields[premise]]), Utf8LineReader.Decode(line[fields[hypothesis]]), nli));
        }
        return collector.Finish("the file has a header but no rows");
    }

    /// <summary>Splits on tabs into <paramref name="fields"/>; returns fields.Length when there are more fields than that.</summary>
    private static int SplitTabs(ReadOnlySpan<byte> line, Span<Range> fields)
    {
        int count = 0, start = 0;
        while (true)
        {
            if (count == fields.Length) return count;
            int tab = line[start..].IndexOf((byte)'\t');
            if (tab < 0)
            {
                fields[count++] = start..line.Length;
                return count;
            }
            fields[count++] = start..(start + tab);
            start += tab + 1;
        }
    }

    private static int Column(string[] header, string name, string path)
    {
        int index = Array.IndexOf(header, name);
        if (index < 0)
            throw new DatasetFormatException(path, "line 1",
                $"missing column '{name}' (GLUE MNLI needs {PremiseColumn}, {HypothesisColumn}, {LabelColumn}; the header has: {string.Join(", ", header)})");
        return index;
    }
}
