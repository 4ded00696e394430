namespace FlanT5.SdkConformance;

/// <summary>
/// flant5-sdk-conformance: checks the emulated Poplar SDK against the list of published declarations.
///   headers --include DIR --list TSV [TSV ...]   every public declaration of the headers must match its row
///     --with DIR: another include directory the headers need (not checked), e.g. the other half of the SDK
///   code DIR --include DIR --list TSV [TSV ...]  sources that may use only the SDK name only listed declarations
///   rows --include DIR --list TSV [TSV ...]      the implemented API as a markdown table
/// Exit code: 0 clean (warnings allowed), 1 failures, 2 bad arguments or unreadable input.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: FlanT5.SdkConformance headers --include <dir> --list <signatures.tsv> [<additions.tsv> ...] [--with <dir>] [--builtin-include <dir>]\n" +
        "       FlanT5.SdkConformance code <source dir> --include <dir> --list <tsv> [...] [--builtin-include <dir>]\n" +
        "       FlanT5.SdkConformance rows --include <dir> --list <tsv> [...] [--builtin-include <dir>]";

    private static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var command = args[0];
        string? include = null, builtin = null, sources = null;
        var lists = new List<string>();
        var others = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--include" when i + 1 < args.Length: include = args[++i]; break;
                case "--builtin-include" when i + 1 < args.Length: builtin = args[++i]; break;
                case "--with" when i + 1 < args.Length: others.Add(args[++i]); break;
                case "--list":
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) lists.Add(args[++i]);
                    break;
                default:
                    if (command == "code" && sources is null && !args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        sources = args[i];
                        break;
                    }
                    Console.Error.WriteLine($"unknown or incomplete argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        if (include is null || lists.Count == 0 || command is not ("headers" or "code" or "rows") ||
            (command == "code" && sources is null))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        try
        {
            var rows = SignatureList.Read(lists);
            var scan = HeaderScanner.Scan(include, ConformanceChecker.ProbeTypes(rows), builtin, others);
            var report = ConformanceChecker.Check(scan, rows);
            switch (command)
            {
                case "headers":
                    foreach (var f in report.Findings) Console.WriteLine(f);
                    Console.WriteLine($"{report.Declarations.Count} declarations in {scan.Headers.Count} headers under {scan.IncludeDirectory}: " +
                        $"{report.Failures} failure(s), {report.Warnings} warning(s) against {rows.Count} rows of {string.Join(", ", lists)}");
                    return report.Failures > 0 ? 1 : 0;
                case "code":
                    var code = CodeChecker.Check(sources!, scan, report, builtin);
                    foreach (var f in code.Findings) Console.WriteLine(f);
                    Console.WriteLine($"{code.Files} source file(s) under {Path.GetFullPath(sources!)}: {code.References} reference(s) to the SDK, " +
                        $"{code.Findings.Count} failure(s)");
                    return code.Findings.Count > 0 ? 1 : 0;
                default:
                    Console.Write(RowsTable.Write(report));
                    return 0;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
