using System.Text;

namespace FlanT5.Poplar.Data;

/// <summary>
/// Turns an example into a <see cref="Seq2SeqExample"/> with two templates whose <c>{field}</c> placeholders are
/// filled from the example (<c>{{</c> and <c>}}</c> are literal braces). <see cref="Mnli"/> is the reference run's
/// prompt: <c>mnli hypothesis: {hypothesis} premise: {premise}</c> → the label word.
/// </summary>
public sealed class PromptTemplate
{
    private readonly Part[] _source;
    private readonly Part[] _target;

    private readonly record struct Part(string Text, bool IsField);

    public PromptTemplate(string source, string target)
    {
        Source = source ?? throw new ArgumentNullException(nameof(source));
        Target = target ?? throw new ArgumentNullException(nameof(target));
        _source = Parse(source, nameof(source));
        _target = Parse(target, nameof(target));
    }

    /// <summary>The MNLI prompt of the reference fine-tuning run.</summary>
    public static PromptTemplate Mnli { get; } = new("mnli hypothesis: {hypothesis} premise: {premise}", "{label}");

    public string Source { get; }
    public string Target { get; }

    /// <summary>The field names the templates use.</summary>
    public IEnumerable<string> Fields => _source.Concat(_target).Where(p => p.IsField).Select(p => p.Text).Distinct();

    public Seq2SeqExample Format(IPromptFields example) =>
        new(Fill(_source, example, Source), Fill(_target, example, Target));

    private static string Fill(Part[] parts, IPromptFields example, string template)
    {
        var sb = new StringBuilder(128);
        foreach (var part in parts)
        {
            if (!part.IsField)
            {
                sb.Append(part.Text);
            }
            else if (example.TryGetField(part.Text, out string value))
            {
                sb.Append(value);
            }
            else
            {
                throw new ArgumentException(
                    $"prompt template '{template}' uses field '{{{part.Text}}}', which the example does not have (it has: {string.Join(", ", example.FieldNames)})");
            }
        }
        return sb.ToString();
    }

    private static Part[] Parse(string template, string name)
    {
        var parts = new List<Part>();
        var literal = new StringBuilder();
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if (c == '{' && i + 1 < template.Length && template[i + 1] == '{') { literal.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < template.Length && template[i + 1] == '}') { literal.Append('}'); i++; continue; }
            if (c == '}')
                throw new FormatException($"{name} template '{template}': unmatched '}}' at position {i} (write '}}}}' for a literal brace)");
            if (c != '{') { literal.Append(c); continue; }
            int close = template.IndexOf('}', i + 1);
            if (close < 0)
                throw new FormatException($"{name} template '{template}': '{{' at position {i} is not closed");
            string field = template[(i + 1)..close];
            if (field.Length == 0 || field.Any(ch => !(char.IsLetterOrDigit(ch) || ch == '_')))
                throw new FormatException($"{name} template '{template}': '{{{field}}}' is not a field name (letters, digits, '_')");
            if (literal.Length > 0) { parts.Add(new Part(literal.ToString(), false)); literal.Clear(); }
            parts.Add(new Part(field, true));
            i = close;
        }
        if (literal.Length > 0) parts.Add(new Part(literal.ToString(), false));
        return parts.ToArray();
    }
}
