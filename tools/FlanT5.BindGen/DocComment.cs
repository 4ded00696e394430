using System.Text;

namespace FlanT5.BindGen;

/// <summary>Turns a C doc comment (<c>/** ... */</c> or <c>///</c>) into the lines of its text.</summary>
internal static class DocComment
{
    public static string? Clean(string raw)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        var lines = new List<string>();
        foreach (var rawLine in raw.Replace("\r\n", "\n").Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith("/**", StringComparison.Ordinal)) line = line[3..];
            else if (line.StartsWith("///", StringComparison.Ordinal)) line = line[3..];
            else if (line.StartsWith("/*", StringComparison.Ordinal)) line = line[2..];
            if (line.EndsWith("*/", StringComparison.Ordinal)) line = line[..^2];
            line = line.Trim();
            if (line.StartsWith('*')) line = line[1..].Trim();
            lines.Add(line);
        }
        while (lines.Count > 0 && lines[0].Length == 0) lines.RemoveAt(0);
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.Count == 0 ? null : string.Join("\n", lines);
    }

    /// <summary>The comment as /// &lt;summary&gt; lines at the given indentation.</summary>
    public static void Write(StringBuilder output, string? doc, string indent)
    {
        if (doc is null) return;
        var lines = doc.Split('\n');
        if (lines.Length == 1)
        {
            output.Append(indent).Append("/// <summary>").Append(Escape(lines[0])).Append("</summary>\n");
            return;
        }
        output.Append(indent).Append("/// <summary>\n");
        foreach (var line in lines)
        {
            output.Append(indent).Append("///");
            if (line.Length > 0) output.Append(' ').Append(Escape(line));
            output.Append('\n');
        }
        output.Append(indent).Append("/// </summary>\n");
    }

    private static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal)
            .Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal);
}
