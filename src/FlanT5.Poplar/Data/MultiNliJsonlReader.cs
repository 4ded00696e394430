using System.Text.Json;
using System.Text.Unicode;

namespace FlanT5.Poplar.Data;

/// <summary>
/// The MultiNLI distribution's JSON lines (multinli_1.0_train.jsonl, ...): one object per line with
/// <c>sentence1</c> (premise), <c>sentence2</c> (hypothesis) and <c>gold_label</c>; other properties are ignored.
/// </summary>
public sealed class MultiNliJsonlReader(DatasetReadOptions? options = null) : IDatasetReader<MnliExample>
{
    private readonly DatasetReadOptions _options = options ?? new DatasetReadOptions();

    public DatasetReadResult<MnliExample> Read(string path)
    {
        using var lines = MnliReader.OpenLines(path);
        var collector = new DatasetReadCollector<MnliExample>(path, _options);
        while (lines.TryReadLine(out var line))
        {
            if (line.Trim(" \t"u8).IsEmpty) continue;
            string location = $"line {lines.LineNumber}";
            if (!Utf8.IsValid(line))
            {
                collector.Bad(location, "invalid UTF-8");
                continue;
            }
            string? problem = ParseLine(line, out string? premise, out string? hypothesis, out string? label);
            if (problem is not null)
            {
                collector.Bad(location, problem);
                continue;
            }
            if (label == NliLabels.NoGoldLabel)
            {
                collector.SkipNoGold();
                continue;
            }
            if (!NliLabels.TryParse(label, out var nli))
            {
                collector.Bad(location, $"unknown gold_label '{label}' (expected entailment, neutral, contradiction or -)");
                continue;
            }
            collector.Add(new MnliExample(premise!, hypothesis!, nli));
        }
        return collector.Finish("the file has no JSON lines");
    }

    private static string? ParseLine(ReadOnlySpan<byte> line, out string? premise, out string? hypothesis, out string? label)
    {
        premise = hypothesis = label = null;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return "expected a JSON object";
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string? slot = reader.ValueTextEquals("sentence1"u8) ? "sentence1"
                    : reader.ValueTextEquals("sentence2"u8) ? "sentence2"
                    : reader.ValueTextEquals("gold_label"u8) ? "gold_label" : null;
                reader.Read();
                if (slot is null)
                {
                    reader.Skip();
                    continue;
                }
                if (reader.TokenType != JsonTokenType.String)
                    return $"'{slot}' must be a string, found {reader.TokenType}";
                string value = reader.GetString()!;
                switch (slot)
                {
                    case "sentence1": premise = value; break;
                    case "sentence2": hypothesis = value; break;
                    default: label = value; break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                return "trailing content after the JSON object";
        }
        catch (JsonException e)
        {
            return $"not valid JSON: {e.Message}";
        }
        if (premise is null) return "missing property 'sentence1' (the premise)";
        if (hypothesis is null) return "missing property 'sentence2' (the hypothesis)";
        if (label is null) return "missing property 'gold_label'";
        return null;
    }
}
