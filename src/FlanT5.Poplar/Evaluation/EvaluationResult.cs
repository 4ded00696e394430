using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlanT5.Poplar.Evaluation;

/// <summary>Counts for one label: how often it was the gold answer, how often it was predicted, how often both.</summary>
public sealed record ClassCounts(string Label, int Gold, int Predicted, int Correct)
{
    /// <summary>Correct / gold (0 when the label never occurs).</summary>
    public double Recall => Gold == 0 ? 0 : (double)Correct / Gold;

    /// <summary>Correct / predicted (0 when never predicted).</summary>
    public double Precision => Predicted == 0 ? 0 : (double)Correct / Predicted;
}

/// <summary>
/// Accuracy of one evaluation split. <see cref="ConfusionMatrix"/>[gold][predicted] has one row per label and one
/// column per label plus a last "unknown" column for generations that matched no label. <see cref="Predictions"/> holds
/// each example's predicted label word (or "unknown"), in the order of the examples.
/// </summary>
public sealed record EvaluationResult(
    string Split,
    int Total,
    int Correct,
    int Unknown,
    IReadOnlyList<string> Labels,
    IReadOnlyList<ClassCounts> PerClass,
    IReadOnlyList<IReadOnlyList<int>> ConfusionMatrix,
    IReadOnlyList<string> UnknownExamples,
    IReadOnlyList<string> Predictions)
{
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.Strict,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static EvaluationResult FromJson(string json) =>
        JsonSerializer.Deserialize<EvaluationResult>(json, JsonOptions)
        ?? throw new InvalidDataException("evaluation result JSON is null");

    /// <summary>A plain-text report: accuracy line, per-class table, confusion matrix.</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"{Split}: accuracy {Accuracy * 100:F2} % ({Correct}/{Total}), unknown {Unknown}\n");
        var width = Math.Max(Labels.Append(LabelSet.UnknownName).Max(l => l.Length), "gold \\ predicted".Length);
        sb.Append(inv, $"  {"label".PadRight(width)}  {"gold",6}  {"pred",6}  {"correct",7}  {"recall",7}  {"precision",9}\n");
        foreach (var c in PerClass)
            sb.Append(inv, $"  {c.Label.PadRight(width)}  {c.Gold,6}  {c.Predicted,6}  {c.Correct,7}  {c.Recall * 100,6:F1}%  {c.Precision * 100,8:F1}%\n");
        var columns = Labels.Append(LabelSet.UnknownName).ToList();
        var cell = Math.Max(columns.Max(c => c.Length), 6);
        sb.Append("  ").Append("gold \\ predicted".PadRight(width));
        foreach (var c in columns) sb.Append("  ").Append(c.PadLeft(cell));
        sb.Append('\n');
        for (var row = 0; row < Labels.Count; row++)
        {
            sb.Append("  ").Append(Labels[row].PadRight(width));
            foreach (var count in ConfusionMatrix[row]) sb.Append("  ").Append(count.ToString(inv).PadLeft(cell));
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
