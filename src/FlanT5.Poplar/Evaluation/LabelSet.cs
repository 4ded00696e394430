namespace FlanT5.Poplar.Evaluation;

/// <summary>
/// The label words a classifier-by-generation may produce, with their ids (position in the list) and the
/// post-processing of the reference: drop <c>&lt;/s&gt;</c> and pad text, strip whitespace, then an exact,
/// case-sensitive match; anything else is "unknown" (id -1) and counts as wrong.
/// </summary>
public sealed class LabelSet
{
    public const int UnknownId = -1;
    public const string UnknownName = "unknown";

    private static readonly string[] SpecialTokenText = ["</s>", "<pad>"];

    public LabelSet(IReadOnlyList<string> names)
    {
        if (names.Count == 0) throw new ArgumentException("a label set needs at least one label", nameof(names));
        if (names.Any(n => n.Length == 0 || n != n.Trim() || n == UnknownName))
            throw new ArgumentException($"label words must be non-empty, unpadded and not '{UnknownName}'", nameof(names));
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new ArgumentException("label words must be distinct", nameof(names));
        Names = names.ToArray();
    }

    /// <summary>GLUE MNLI: 0 entailment, 1 neutral, 2 contradiction.</summary>
    public static LabelSet Mnli { get; } = new(["entailment", "neutral", "contradiction"]);

    public IReadOnlyList<string> Names { get; }

    public int Count => Names.Count;

    /// <summary>The id of generated text after post-processing, or <see cref="UnknownId"/>.</summary>
    public int Classify(string generated)
    {
        var text = generated;
        foreach (var special in SpecialTokenText) text = text.Replace(special, "", StringComparison.Ordinal);
        text = text.Trim();
        for (var id = 0; id < Names.Count; id++)
        {
            if (string.Equals(text, Names[id], StringComparison.Ordinal)) return id;
        }
        return UnknownId;
    }

    /// <summary>The word of <paramref name="id"/>, "unknown" for -1.</summary>
    public string NameOf(int id) => id == UnknownId ? UnknownName
        : id >= 0 && id < Names.Count ? Names[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"expected -1 or a label id in [0, {Names.Count})");

    /// <summary>The id of a gold label word; throws for anything else (gold labels are never unknown).</summary>
    public int IdOf(string name)
    {
        for (var id = 0; id < Names.Count; id++)
        {
            if (Names[id] == name) return id;
        }
        throw new ArgumentException($"'{name}' is not a label; expected one of {string.Join(", ", Names)}", nameof(name));
    }
}
