namespace FlanT5.SdkConformance;

internal enum Severity
{
    Warning,
    Failure,
}

/// <summary>One problem: where, which declaration, what differs, and the row (with its source) it was compared with.</summary>
internal sealed record Finding(Severity Severity, string Header, int Line, string Declaration, string Problem, SignatureRow? Row)
{
    public override string ToString()
    {
        var level = Severity == Severity.Failure ? "FAIL" : "warn";
        var row = Row is null ? "" : $" [row {Row.Where}, {Row.Confidence}: {Row.Signature} ; source {Row.Source}]";
        var declaration = Declaration.Length > 0 ? Declaration + ": " : "";
        return $"{Header}:{Line}: {level} {declaration}{Problem}{row}";
    }
}

/// <summary>The outcome of comparing the headers with the list: every declaration, the row it matched, the findings.</summary>
internal sealed record ConformanceReport(
    IReadOnlyList<Declaration> Declarations,
    IReadOnlyDictionary<Declaration, SignatureRow> Matches,
    IReadOnlyList<Finding> Findings,
    IReadOnlyDictionary<Declaration, IReadOnlyList<Finding>> ByDeclaration)
{
    public int Failures => Findings.Count(f => f.Severity == Severity.Failure);
    public int Warnings => Findings.Count(f => f.Severity == Severity.Warning);
}

/// <summary>
/// Compares each declaration with its best row of the list: qualified name, kind, header path, parameter types
/// (normalised spelling, or the same canonical type), their order, defaults (presence, and value where the row shows
/// one), return or variable type, and the qualifiers that change a call (const, static, ref-qualifier, deleted).
/// A difference from a header or docs row is a failure; from a dump or callsite row, a warning. A declaration with
/// no row at all is a failure.
/// </summary>
internal static class ConformanceChecker
{
    private static readonly string[] TemplateParameterNames = ["T", "U", "constType", "FillValueType", "Alloc"];

    /// <summary>The list's types clang should resolve (those that name no template parameter).</summary>
    public static IEnumerable<string> ProbeTypes(IEnumerable<SignatureRow> rows) =>
        rows.SelectMany(r => r.Parameters.Select(p => p.Type).Append(r.ReturnType))
            .Where(t => t.Length > 0 && t is not ("enum" or "enum class"))
            .Where(t => !CppText.Tokens(t).Any(TemplateParameterNames.Contains))
            .Distinct(StringComparer.Ordinal);

    public static ConformanceReport Check(HeaderScan scan, IReadOnlyList<SignatureRow> rows)
    {
        var findings = scan.Problems
            .Select(p => new Finding(Severity.Failure, p.Header, p.Line, "", p.What, null))
            .ToList();
        var byName = rows.GroupBy(r => r.QualifiedName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var context = new Comparison(scan);

        // Exact matches first, so an overload that matches no row is not compared with a row another overload matches.
        var compared = scan.Declarations.Select(d => (Declaration: d, Candidates: Candidates(d, byName, context))).ToList();
        var claimed = compared.SelectMany(c => c.Candidates.Where(x => x.Differences.Count == 0).Select(x => x.Row).Take(1))
            .ToHashSet();
        var matches = new Dictionary<Declaration, SignatureRow>();
        var byDeclaration = new Dictionary<Declaration, IReadOnlyList<Finding>>();
        foreach (var (declaration, all) in compared)
        {
            // An overload is compared with the rows it resembles; one like none of them is an overload the list lacks.
            var candidates = declaration.IsCallable ? all.Where(c => context.Resembles(declaration, c.Row)).ToList() : all;
            if (declaration.IsCopyOrMove) candidates = candidates.Where(c => context.SameParameters(declaration, c.Row)).ToList();
            if (candidates.Count == 0)
            {
                if (declaration.IsCopyOrMove) continue;
                var unlisted = Unlisted(declaration, byName, all.Count);
                findings.Add(unlisted);
                byDeclaration[declaration] = [unlisted];
                continue;
            }
            var exact = candidates.FindIndex(c => c.Differences.Count == 0);
            var best = exact >= 0 ? candidates[exact] : default;
            if (exact < 0)
            {
                var open = candidates.Where(c => !claimed.Contains(c.Row)).ToList();
                best = (open.Count > 0 ? open : candidates)
                    .OrderBy(c => c.Differences.Count)
                    .ThenBy(c => Math.Abs(c.Row.Parameters.Count - declaration.Parameters.Count))
                    .First();
            }
            matches[declaration] = best.Row;
            var severity = best.Row.IsExact ? Severity.Failure : Severity.Warning;
            var differences = best.Differences.Select(d =>
                new Finding(severity, declaration.Header, declaration.Line, declaration.Signature, d, best.Row)).ToList();
            findings.AddRange(differences);
            byDeclaration[declaration] = differences;
        }
        return new ConformanceReport(scan.Declarations, matches, Collapse(findings), byDeclaration);
    }

    // Declarations alike in one header (the specialisations of a template) give one line, not one each.
    private static List<Finding> Collapse(List<Finding> findings) =>
        findings.GroupBy(f => (f.Severity, f.Header, f.Declaration, f.Problem, f.Row))
            .Select(g => g.Count() == 1
                ? g.First()
                : g.First() with { Problem = g.First().Problem + $" (and {g.Count() - 1} more alike, lines {string.Join(", ", g.Skip(1).Select(f => f.Line))})" })
            .OrderBy(f => f.Header, StringComparer.Ordinal).ThenBy(f => f.Line)
            .ToList();

    private static Finding Unlisted(Declaration d, Dictionary<string, List<SignatureRow>> byName, int sameKind)
    {
        byName.TryGetValue(d.QualifiedName, out var other);
        var problem = other is null
            ? "is not in the list (nor in the additions): declare only SDK API, or add a row with its public source"
            : sameKind == 0
                ? $"is a {d.Kind}; the list has {d.QualifiedName} only as {string.Join(", ", other.Select(r => r.Kind).Distinct())}"
                : $"is an overload the list does not have (nor the additions); its {other.Count} row(s) of {d.QualifiedName}: " +
                  string.Join("; ", other.Take(4).Select(r => $"({string.Join(", ", r.Parameters)}) at {r.Where}")) +
                  (other.Count > 4 ? "; ..." : "");
        return new Finding(Severity.Failure, d.Header, d.Line, d.Signature, problem, null);
    }

    private static List<(SignatureRow Row, List<string> Differences)> Candidates(Declaration d,
        Dictionary<string, List<SignatureRow>> byName, Comparison context)
    {
        if (!byName.TryGetValue(d.QualifiedName, out var rows)) return [];
        return rows.Where(r => Group(r.Kind) == Group(d.Kind))
            .Select(r => (r, context.Differences(d, r)))
            .ToList();
    }

    private static string Group(string kind) => kind switch
    {
        "function" or "method" or "constructor" => "callable",
        "class" or "struct" => "record",
        _ => kind,
    };

    private sealed class Comparison(HeaderScan scan)
    {
        /// <summary>
        /// The same types in another order, or at least half the types in place where no other parameter is of
        /// another kind (pointer, arithmetic, anything else): `const T *` for `std::size_t` is another overload, not
        /// a misspelling. An operator's operands are what tell its overloads apart, so each of them must be the row's
        /// type or a spelling of it (`StringRef` for `const StringRef &`); a shared `std::ostream &` is not enough.
        /// </summary>
        public bool Resembles(Declaration d, SignatureRow row)
        {
            var rename = Rename(d, row);
            var n = Math.Max(d.Parameters.Count, row.Parameters.Count);
            if (n == 0) return true;
            if (d.Parameters.Count == row.Parameters.Count && SameMultiset(d.Parameters, row.Parameters, rename)) return true;
            var differing = d.Parameters.Zip(row.Parameters)
                .Where(p => !SameType(p.Second.Type, p.First.Type, p.First.Canonical, rename))
                .ToList();
            if (differing.Any(p => !SameKind(p.Second.Type, p.First, rename))) return false;
            if (IsOperator(d) && differing.Any(p => Named(p.Second.Type, null) != Named(p.First.Type, rename))) return false;
            var inPlace = Math.Min(d.Parameters.Count, row.Parameters.Count) - differing.Count;
            return 2 * inPlace >= n;
        }

        private enum TypeKind
        {
            TemplateParameter,
            Pointer,
            Arithmetic,
            Other,
        }

        private static readonly HashSet<string> ArithmeticWords =
            ["bool", "char", "wchar_t", "char16_t", "char32_t", "short", "int", "long", "signed", "unsigned", "float", "double"];

        private static readonly HashSet<string> ArithmeticNames =
        [
            "size_t", "std::size_t", "ptrdiff_t", "std::ptrdiff_t",
            "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
            "std::int8_t", "std::int16_t", "std::int32_t", "std::int64_t",
            "std::uint8_t", "std::uint16_t", "std::uint32_t", "std::uint64_t",
        ];

        private bool SameKind(string listType, HeaderParameter header, IReadOnlyDictionary<string, string> rename)
        {
            var theirs = KindOf(listType, scan.ProbedTypes.TryGetValue(listType, out var probed) ? probed : null, null);
            var mine = KindOf(header.Type, header.Canonical, rename);
            return theirs == TypeKind.TemplateParameter || mine == TypeKind.TemplateParameter || theirs == mine;
        }

        // A reference counts with class types: `const Tensor &` for `Tensor` is a spelling, not another overload.
        private static TypeKind KindOf(string type, string? canonical, IReadOnlyDictionary<string, string>? rename)
        {
            var tokens = CppText.Tokens(CppText.NormaliseType(type, rename)).Where(t => t is not ("const" or "volatile")).ToList();
            if (tokens.Count == 0) return TypeKind.Other;
            if (tokens[^1] == "*") return TypeKind.Pointer;
            if (tokens[^1] is "&" or "&&") return TypeKind.Other;
            if (tokens.Count == 1 && (TemplateParameterNames.Contains(tokens[0]) || (rename?.Values.Contains(tokens[0]) ?? false)))
            {
                return TypeKind.TemplateParameter;
            }
            if (tokens.All(ArithmeticWords.Contains) || ArithmeticNames.Contains(CppText.Join(tokens))) return TypeKind.Arithmetic;
            if (canonical is { Length: > 0 } && !canonical.Contains("type-parameter", StringComparison.Ordinal))
            {
                var resolved = CppText.Tokens(CppText.NormaliseType(canonical)).Where(t => t is not ("const" or "volatile")).ToList();
                if (resolved.Count > 0 && resolved[^1] == "*") return TypeKind.Pointer;
                if (resolved.Count > 0 && resolved.All(ArithmeticWords.Contains)) return TypeKind.Arithmetic;
            }
            return TypeKind.Other;
        }

        // The type an operand names, without const, volatile or the reference.
        private static string Named(string type, IReadOnlyDictionary<string, string>? rename) =>
            CppText.Join(CppText.Tokens(CppText.NormaliseType(type, rename)).Where(t => t is not ("const" or "volatile" or "&" or "&&")));

        private static bool IsOperator(Declaration d)
        {
            var name = d.QualifiedName[(d.QualifiedName.LastIndexOf("::", StringComparison.Ordinal) + 2)..];
            return name.StartsWith("operator", StringComparison.Ordinal) &&
                   name.Length > "operator".Length && name["operator".Length] is not (' ' or '_') && !char.IsAsciiLetterOrDigit(name["operator".Length]);
        }

        public bool SameParameters(Declaration d, SignatureRow row)
        {
            var rename = Rename(d, row);
            return d.Parameters.Count == row.Parameters.Count &&
                   d.Parameters.Zip(row.Parameters).All(p => SameType(p.Second.Type, p.First.Type, p.First.Canonical, rename));
        }

        public List<string> Differences(Declaration d, SignatureRow row)
        {
            var differences = new List<string>();
            if (d.Header != row.Header && !d.Has("forward-declared")) differences.Add($"is declared in {d.Header}, the row says {row.Header}");
            if (d.Kind != row.Kind) differences.Add($"is a {d.Kind}, the row says {row.Kind}");
            var rename = Rename(d, row);
            switch (d.Kind)
            {
                case "function" or "method" or "constructor":
                    Callable(d, row, rename, differences);
                    break;
                case "enum":
                    if (row.ReturnType.Length > 0 && row.ReturnType != d.Type) differences.Add($"is an {d.Type}, the row says {row.ReturnType}");
                    break;
                case "variable":
                    if (row.ReturnType.Length > 0 && !SameType(row.ReturnType, d.Type, d.TypeCanonical, rename))
                    {
                        differences.Add($"has type `{d.Type}`, the row says `{row.ReturnType}`");
                    }
                    break;
                case "typedef":
                    if (row.ReturnType.Length > 0 && !SameType(row.ReturnType, d.Type, d.TypeCanonical, rename))
                    {
                        differences.Add($"names `{d.Type}`, the row says `{row.ReturnType}`");
                    }
                    break;
            }
            return differences;
        }

        private void Callable(Declaration d, SignatureRow row, IReadOnlyDictionary<string, string> rename, List<string> differences)
        {
            var header = d.Parameters;
            var list = row.Parameters;
            var reordered = false;
            var typesMatch = header.Count == list.Count &&
                header.Zip(list).All(p => SameType(p.Second.Type, p.First.Type, p.First.Canonical, rename));
            if (header.Count != list.Count)
            {
                differences.Add($"has {header.Count} parameter(s) ({string.Join(", ", header.Select(p => p.Type))}), " +
                    $"the row has {list.Count} ({string.Join(", ", list.Select(p => p.Type))})");
            }
            else if (!typesMatch && SameMultiset(header, list, rename))
            {
                reordered = true;
                differences.Add($"has its parameters in another order: ({string.Join(", ", header.Select(p => p.Type))}), " +
                    $"the row has ({string.Join(", ", list.Select(p => p.Type))})");
            }
            else
            {
                for (var i = 0; i < header.Count; i++)
                {
                    if (!SameType(list[i].Type, header[i].Type, header[i].Canonical, rename))
                    {
                        differences.Add($"parameter {i + 1} is `{header[i].Type}`, the row says `{list[i].Type}`");
                    }
                }
            }
            // Defaults are compared position by position whenever the counts agree (a wrong type elsewhere does not
            // hide a missing default); not when the parameters are in another order.
            if (header.Count == list.Count && !reordered)
            {
                for (var i = 0; i < header.Count; i++)
                {
                    var (mine, theirs) = (header[i].Default, list[i].Default);
                    if (theirs is null && mine is not null)
                    {
                        differences.Add($"parameter {i + 1} has a default (= {mine}), the row shows none");
                    }
                    else if (theirs is not null && mine is null)
                    {
                        differences.Add($"parameter {i + 1} has no default, the row shows = {theirs}");
                    }
                    else if (theirs is not null && theirs != "?" && mine is not null &&
                             CppText.NormaliseValue(theirs, scan.Namespaces) != CppText.NormaliseValue(mine, scan.Namespaces))
                    {
                        differences.Add($"parameter {i + 1} defaults to {mine}, the row says = {theirs}");
                    }
                }
            }
            if (d.Kind != "constructor" && row.ReturnType.Length > 0 && !SameType(row.ReturnType, d.Type, d.TypeCanonical, rename))
            {
                differences.Add($"returns `{d.Type}`, the row says `{row.ReturnType}`");
            }
            if (d.Kind == "method")
            {
                var rowConst = row.Has("const") || row.Has("const &");
                if (d.Has("const") != rowConst) differences.Add(d.Has("const") ? "is const, the row's is not" : "is not const, the row's is");
                if (d.Has("static") != row.Has("static")) differences.Add(d.Has("static") ? "is static, the row's is not" : "is not static, the row's is");
                if (d.Has("&") != row.Has("const &")) differences.Add(d.Has("&") ? "is &-qualified, the row's is not" : "is not &-qualified, the row's is (const &)");
            }
            if (d.Has("deleted") != row.Has("deleted")) differences.Add(d.Has("deleted") ? "is deleted, the row's is not" : "is not deleted, the row's is");
        }

        private bool SameMultiset(IReadOnlyList<HeaderParameter> header, IReadOnlyList<ListParameter> list,
            IReadOnlyDictionary<string, string> rename)
        {
            var open = list.ToList();
            foreach (var p in header)
            {
                var index = open.FindIndex(l => SameType(l.Type, p.Type, p.Canonical, rename));
                if (index < 0) return false;
                open.RemoveAt(index);
            }
            return true;
        }

        /// <summary>Same spelling once normalised, or the same type once clang resolved the list's spelling.</summary>
        public bool SameType(string listType, string headerType, string headerCanonical, IReadOnlyDictionary<string, string> rename)
        {
            var (theirs, mine) = (CppText.NormaliseType(listType), CppText.NormaliseType(headerType, rename));
            if (theirs == mine) return true;
            // The list names members of class templates without arguments (poplar::ArrayRef::const_iterator).
            if (CppText.WithoutScopeTemplateArguments(theirs) == CppText.WithoutScopeTemplateArguments(mine)) return true;
            return scan.ProbedTypes.TryGetValue(listType, out var canonical) && canonical is not null &&
                   canonical == headerCanonical;
        }

        // The header may name its template parameters differently from the row: map them by position.
        private static IReadOnlyDictionary<string, string> Rename(Declaration d, SignatureRow row)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            var theirs = row.TemplateParameters;
            for (var i = 0; i < Math.Min(d.TemplateParameters.Count, theirs.Count); i++)
            {
                if (d.TemplateParameters[i].Length > 0 && theirs[i].Length > 0) map[d.TemplateParameters[i]] = theirs[i];
            }
            return map;
        }
    }
}
