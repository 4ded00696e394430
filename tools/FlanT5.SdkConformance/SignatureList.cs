namespace FlanT5.SdkConformance;

/// <summary>One parameter of a list row: its type, and its default (null: none shown, "?": one exists, else the value).</summary>
internal sealed record ListParameter(string Type, string? Default)
{
    public override string ToString() => Default is null ? Type : $"{Type} = {Default}";
}

/// <summary>One row of signatures.tsv (or of our additions file, in the same format).</summary>
internal sealed record SignatureRow(
    string Header,
    string Kind,
    string QualifiedName,
    string ReturnType,
    IReadOnlyList<ListParameter> Parameters,
    IReadOnlyList<string> Qualifiers,
    string Source,
    string Confidence,
    string File,
    int Line)
{
    /// <summary>Header and docs rows are exact: a difference is a failure. Dump and callsite rows are inferred.</summary>
    public bool IsExact => Confidence is "header" or "docs";

    public bool Has(string qualifier) => Qualifiers.Contains(qualifier);

    /// <summary>The names of the row's own template parameters (`template<class U, class Alloc, ...>`: U, Alloc).</summary>
    public IReadOnlyList<string> TemplateParameters
    {
        get
        {
            var template = Qualifiers.FirstOrDefault(q => q.StartsWith("template<", StringComparison.Ordinal));
            if (template is null) return [];
            return CppText.SplitTopLevel(template["template<".Length..^1])
                .Select(p => CppText.Tokens(p).LastOrDefault(t => t != "..." && t is not ("typename" or "class")) ?? "")
                .ToList();
        }
    }

    public string Where => $"{System.IO.Path.GetFileName(File)}:{Line}";

    public string Signature => SignatureText.Of(Kind, QualifiedName, ReturnType, Parameters.Select(p => p.ToString()), Qualifiers);
}

/// <summary>Reads the tab-separated list format of shared/poplar-api/README.md.</summary>
internal static class SignatureList
{
    public const string HeaderLine = "header\tkind\tqualified_name\treturn_type\tparameters\tqualifiers\tsource\tconfidence";

    public static readonly IReadOnlySet<string> Kinds = new HashSet<string>(StringComparer.Ordinal)
    {
        "function", "method", "constructor", "class", "struct", "enum", "enumerator", "variable", "typedef",
    };

    public static readonly IReadOnlySet<string> Confidences = new HashSet<string>(StringComparer.Ordinal)
    {
        "header", "docs", "dump", "callsite",
    };

    /// <summary>Reads every row of every file; a malformed row is an error naming the file and line.</summary>
    public static IReadOnlyList<SignatureRow> Read(IEnumerable<string> paths) => paths.SelectMany(Read).ToList();

    public static IReadOnlyList<SignatureRow> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"signature list '{path}' does not exist", path);
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].TrimEnd('\r') != HeaderLine)
        {
            throw new InvalidDataException($"{path}:1: expected the header line '{HeaderLine.Replace("\t", "\\t")}'");
        }
        var rows = new List<SignatureRow>();
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            rows.Add(ReadRow(line, path, i + 1));
        }
        return rows;
    }

    private static SignatureRow ReadRow(string line, string path, int number)
    {
        var cells = line.Split('\t');
        if (cells.Length != 8) throw Bad(path, number, $"has {cells.Length} tab-separated columns, expected 8");
        var (header, kind, name, returnType, parameters, qualifiers, source, confidence) =
            (cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]);
        if (header.Length == 0) throw Bad(path, number, "has no header");
        if (!Kinds.Contains(kind)) throw Bad(path, number, $"has kind '{kind}', expected one of {string.Join(", ", Kinds)}");
        if (name.Length == 0) throw Bad(path, number, "has no qualified name");
        if (source.Trim().Length == 0) throw Bad(path, number, $"'{name}' has no source (every row needs a public one)");
        if (!Confidences.Contains(confidence))
        {
            throw Bad(path, number, $"'{name}' has confidence '{confidence}', expected one of {string.Join(", ", Confidences)}");
        }
        var list = new List<ListParameter>();
        foreach (var p in CppText.SplitTopLevel(parameters))
        {
            if (p.Length == 0) throw Bad(path, number, $"'{name}' has an empty parameter in '{parameters}'");
            var equals = CppText.TopLevelEquals(p);
            list.Add(equals < 0 ? new ListParameter(p, null) : new ListParameter(p[..equals].Trim(), p[(equals + 1)..].Trim()));
        }
        var quals = CppText.SplitTopLevel(qualifiers).Where(q => q.Length > 0).ToList();
        return new SignatureRow(header, kind, name, returnType, list, quals, source, confidence, path, number);
    }

    private static InvalidDataException Bad(string path, int line, string what) => new($"{path}:{line}: the row {what}");
}

/// <summary>How a declaration is written in reports and tables: `ret name(params) qualifiers`.</summary>
internal static class SignatureText
{
    public static string Of(string kind, string name, string returnType, IEnumerable<string> parameters,
        IEnumerable<string> qualifiers)
    {
        var quals = string.Join(" ", qualifiers.Where(q => !q.StartsWith("template<", StringComparison.Ordinal)));
        var text = kind switch
        {
            "function" or "method" or "constructor" =>
                (returnType.Length > 0 ? returnType + " " : "") + name + "(" + string.Join(", ", parameters) + ")",
            "enum" => (returnType.Length > 0 ? returnType : "enum") + " " + name,
            "typedef" => "using " + name + (returnType.Length > 0 ? " = " + returnType : ""),
            "variable" => returnType + " " + name,
            _ => kind + " " + name,
        };
        return quals.Length > 0 ? text + " " + quals : text;
    }
}
