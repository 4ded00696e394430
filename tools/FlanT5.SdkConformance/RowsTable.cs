using System.Text;

namespace FlanT5.SdkConformance;

/// <summary>The implemented API as a markdown table: each declaration with the source and confidence of its row.</summary>
internal static class RowsTable
{
    public static string Write(ConformanceReport report)
    {
        var text = new StringBuilder();
        text.Append("| header | qualified name | signature | source | confidence |\n");
        text.Append("|---|---|---|---|---|\n");
        foreach (var d in report.Declarations.OrderBy(d => d.Header, StringComparer.Ordinal).ThenBy(d => d.Line))
        {
            report.Matches.TryGetValue(d, out var row);
            text.Append("| ").Append(Cell(d.Header))
                .Append(" | ").Append(Cell(d.QualifiedName))
                .Append(" | `").Append(Cell(d.Signature)).Append('`')
                .Append(" | ").Append(Cell(row?.Source ?? "not in the list"))
                .Append(" | ").Append(Cell(row?.Confidence ?? "-"))
                .Append(" |\n");
        }
        return text.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");
}
