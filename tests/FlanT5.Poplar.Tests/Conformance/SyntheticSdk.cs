using FlanT5.Poplar.Tests.Interop;
using FlanT5.SdkConformance;

namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>A small include directory and signature list written by a test, and the checker run over them.</summary>
internal sealed class SyntheticSdk : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly List<string> _rows = [];
    private readonly List<string> _additions = [];

    public string Include => Path.Combine(_temp.Path, "include");

    public string Root => _temp.Path;

    public SyntheticSdk Header(string relativePath, string text)
    {
        var path = Path.Combine(Include, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return this;
    }

    public SyntheticSdk Source(string relativePath, string text)
    {
        var path = Path.Combine(_temp.Path, "builder", relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return this;
    }

    /// <summary>A list row; the source is a placeholder URL, the confidence decides the strictness.</summary>
    public SyntheticSdk Row(string header, string kind, string name, string returnType = "", string parameters = "",
        string qualifiers = "", string confidence = "header")
    {
        _rows.Add(Line(header, kind, name, returnType, parameters, qualifiers, confidence));
        return this;
    }

    public SyntheticSdk Addition(string header, string kind, string name, string returnType = "", string parameters = "",
        string qualifiers = "", string confidence = "docs")
    {
        _additions.Add(Line(header, kind, name, returnType, parameters, qualifiers, confidence));
        return this;
    }

    public IReadOnlyList<string> ListFiles()
    {
        var list = Path.Combine(_temp.Path, "signatures.tsv");
        var additions = Path.Combine(_temp.Path, "additions.tsv");
        File.WriteAllLines(list, _rows.Prepend(SignatureList.HeaderLine));
        File.WriteAllLines(additions, _additions.Prepend(SignatureList.HeaderLine));
        return [list, additions];
    }

    public ConformanceReport Check()
    {
        var rows = SignatureList.Read(ListFiles());
        return ConformanceChecker.Check(HeaderScanner.Scan(Include, ConformanceChecker.ProbeTypes(rows)), rows);
    }

    public CodeReport CheckCode()
    {
        var rows = SignatureList.Read(ListFiles());
        var scan = HeaderScanner.Scan(Include, ConformanceChecker.ProbeTypes(rows));
        return CodeChecker.Check(Path.Combine(_temp.Path, "builder"), scan, ConformanceChecker.Check(scan, rows), null);
    }

    private static string Line(string header, string kind, string name, string returnType, string parameters,
        string qualifiers, string confidence) =>
        string.Join('\t', header, kind, name, returnType, parameters, qualifiers,
            "https://docs.graphcore.ai/projects/poplar-api/en/latest/example.html", confidence);

    public void Dispose() => _temp.Dispose();
}

internal static class ReportText
{
    public static string Of(IEnumerable<Finding> findings) => string.Join("\n", findings);
}
