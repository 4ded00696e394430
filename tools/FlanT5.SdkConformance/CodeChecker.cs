using FlanT5.Clang;

namespace FlanT5.SdkConformance;

/// <summary>What the check of SDK-only sources found.</summary>
internal sealed record CodeReport(int Files, int References, IReadOnlyList<Finding> Findings);

/// <summary>
/// Checks C++ sources that must compile against the real SDK too (the T5 builder): parsed with the emulated include
/// directory, every name they use from it must be a declaration the list (or the additions) holds, and none may be
/// one of the emulator's own helpers (namespace poplar_emulator, anonymous or detail namespaces).
/// </summary>
internal static class CodeChecker
{
    private static readonly string[] SourceExtensions = [".cpp", ".cc", ".cxx", ".hpp", ".h", ".hh", ".hxx"];

    public static CodeReport Check(string sourceDirectory, HeaderScan scan, ConformanceReport report, string? builtinInclude)
    {
        var root = Path.GetFullPath(sourceDirectory);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"source directory '{sourceDirectory}' does not exist");
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => SourceExtensions.Contains(Path.GetExtension(f), StringComparer.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        var declarations = report.Declarations.ToDictionary(d => d.Usr, StringComparer.Ordinal);
        var includePrefix = scan.IncludeDirectory.TrimEnd('/') + "/";
        var sourcePrefix = root.TrimEnd('/') + "/";
        var findings = new List<Finding>();
        var seen = new HashSet<(string, int, string)>();
        var references = 0;
        var arguments = HeaderScanner.ClangArguments(scan.IncludeDirectory, scan.OtherIncludes, builtinInclude).Concat(["-I", root]).ToList();
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            using var unit = TranslationUnit.Parse(file, arguments, 0);
            foreach (var error in unit.Errors())
            {
                findings.Add(new Finding(Severity.Failure, Shown(error.File, sourcePrefix), error.Line, "",
                    "does not compile against the emulated SDK: " + error.Message, null));
            }
            foreach (var c in Cursors.Descendants(unit.Cursor))
            {
                if (c.Kind is not (CXCursorKind.TypeRef or CXCursorKind.TemplateRef or CXCursorKind.NamespaceRef
                    or CXCursorKind.MemberRef or CXCursorKind.DeclRefExpr or CXCursorKind.MemberRefExpr
                    or CXCursorKind.CallExpr)) continue;
                var (at, line) = Cursors.Location(c);
                if (at.Length == 0 || Path.GetFullPath(at) != file) continue;
                var target = LibClang.clang_getCursorReferenced(c);
                if (Cursors.IsNull(target)) continue;
                var (declaredIn, _) = Cursors.Location(target);
                if (declaredIn.Length == 0 || !Path.GetFullPath(declaredIn).StartsWith(includePrefix, StringComparison.Ordinal)) continue;
                references++;
                var name = HeaderScanner.Qualified(target);
                string? problem = null;
                if (HeaderScanner.IsInternal(target) || (target.Kind == CXCursorKind.Namespace &&
                    HeaderScanner.IsInternalNamespace(Cursors.Spelling(target), LibClang.clang_Cursor_isAnonymous(target) != 0)))
                {
                    problem = $"uses {name}, a helper of the emulator ({HeaderScanner.HelperNamespace} or a detail namespace) that the real SDK does not have";
                }
                else if (declarations.TryGetValue(Cursors.Usr(LibClang.clang_getCanonicalCursor(target)), out var declaration) &&
                         !report.Matches.ContainsKey(declaration))
                {
                    problem = $"uses {declaration.Signature} ({declaration.Header}), which is not in the list nor the additions";
                }
                if (problem is not null && seen.Add((relative, line, name)))
                {
                    findings.Add(new Finding(Severity.Failure, relative, line, name, problem, null));
                }
            }
        }
        return new CodeReport(files.Count, references, findings);
    }

    private static string Shown(string file, string prefix)
    {
        var full = file.Length == 0 ? "" : Path.GetFullPath(file);
        return full.StartsWith(prefix, StringComparison.Ordinal) ? full[prefix.Length..] : full;
    }
}
