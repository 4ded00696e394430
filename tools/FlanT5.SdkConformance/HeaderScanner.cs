using FlanT5.Clang;

namespace FlanT5.SdkConformance;

/// <summary>What a scan of an include directory found.</summary>
internal sealed record HeaderScan(
    string IncludeDirectory,
    IReadOnlyList<string> OtherIncludes,
    IReadOnlyList<string> Headers,
    IReadOnlyList<Declaration> Declarations,
    IReadOnlyList<HeaderProblem> Problems,
    IReadOnlyDictionary<string, string?> ProbedTypes,
    IReadOnlySet<string> Namespaces);

/// <summary>
/// Parses every header under an include directory as C++17 in one translation unit and collects the public
/// declarations written in them, outside namespace poplar_emulator and anonymous or detail namespaces. It also asks
/// clang for the canonical form of the list's types (probe aliases after the includes), so a typedef in the list
/// compares with what it names.
/// </summary>
internal static class HeaderScanner
{
    public const string HelperNamespace = "poplar_emulator";

    private static readonly string[] HeaderExtensions = [".hpp", ".h", ".hh", ".hxx"];
    private const string ProbeNamespace = "ft5_conformance_probe";

    /// <summary>Whether a namespace is ours or private: its declarations are not SDK API.</summary>
    public static bool IsInternalNamespace(string name, bool anonymous) =>
        anonymous || name == HelperNamespace || name == "detail" || name.EndsWith("_detail", StringComparison.Ordinal);

    public static IReadOnlyList<string> ClangArguments(string includeDirectory, IEnumerable<string> otherIncludes,
        string? builtinInclude) =>
    [
        "-x", "c++", "-std=c++17", "--target=x86_64-pc-linux-gnu", "-ferror-limit=0",
        "-isystem", builtinInclude ?? BuiltinIncludes.Find(),
        "-I", includeDirectory,
        .. otherIncludes.SelectMany(d => new[] { "-I", d }),
    ];

    /// <summary>Scans the headers under <paramref name="includeDirectory"/>; <paramref name="otherIncludes"/> are on the
    /// include path too (another part of the SDK they include) but their declarations are not collected.</summary>
    public static HeaderScan Scan(string includeDirectory, IEnumerable<string> probeTypes, string? builtinInclude = null,
        IReadOnlyList<string>? otherIncludes = null)
    {
        var others = (otherIncludes ?? []).Select(Path.GetFullPath).ToList();
        foreach (var other in others.Where(o => !Directory.Exists(o)))
        {
            throw new DirectoryNotFoundException($"include directory '{other}' does not exist");
        }
        var root = Path.GetFullPath(includeDirectory);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"include directory '{includeDirectory}' does not exist");
        var headers = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => HeaderExtensions.Contains(Path.GetExtension(f), StringComparer.Ordinal))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (headers.Count == 0) throw new InvalidDataException($"include directory '{includeDirectory}' holds no headers");

        var probes = probeTypes.Distinct(StringComparer.Ordinal).ToList();
        var work = Directory.CreateTempSubdirectory("ft5-conformance-");
        try
        {
            var main = Path.Combine(work.FullName, "probe.cpp");
            var text = new System.Text.StringBuilder();
            foreach (var h in headers) text.Append("#include \"").Append(h).Append("\"\n");
            text.Append("namespace ").Append(ProbeNamespace).Append(" {\n");
            for (var i = 0; i < probes.Count; i++) text.Append("using t").Append(i).Append(" = ").Append(probes[i]).Append(";\n");
            text.Append("}\n");
            File.WriteAllText(main, text.ToString());

            using var unit = TranslationUnit.Parse(main, ClangArguments(root, others, builtinInclude), LibClang.TranslationUnitSkipFunctionBodies);
            var walker = new Walker(unit, root);
            walker.Visit(unit.Cursor, insideRecord: false);
            foreach (var error in unit.Errors())
            {
                var file = error.File.Length == 0 ? "" : Path.GetFullPath(error.File);
                if (file == main) continue; // a list type the headers do not declare: compared by spelling only
                walker.Problems.Add(new HeaderProblem(walker.Relative(file), error.Line, "clang: " + error.Message));
            }
            return new HeaderScan(root, others, headers, walker.Declarations, walker.Problems, ReadProbes(unit, main, probes),
                walker.Namespaces);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static Dictionary<string, string?> ReadProbes(TranslationUnit unit, string main, List<string> probes)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var p in probes) result[p] = null;
        foreach (var ns in Cursors.Children(unit.Cursor))
        {
            if (ns.Kind != CXCursorKind.Namespace || Cursors.Spelling(ns) != ProbeNamespace) continue;
            if (Path.GetFullPath(Cursors.Location(ns).File) != main) continue;
            foreach (var alias in Cursors.Children(ns))
            {
                if (alias.Kind != CXCursorKind.TypeAliasDecl || LibClang.clang_isInvalidDeclaration(alias) != 0) continue;
                var index = int.Parse(Cursors.Spelling(alias)[1..], System.Globalization.CultureInfo.InvariantCulture);
                var type = LibClang.clang_getTypedefDeclUnderlyingType(alias);
                result[probes[index]] = Cursors.TypeSpelling(LibClang.clang_getCanonicalType(type));
            }
        }
        return result;
    }

    private sealed class Walker(TranslationUnit unit, string root)
    {
        public readonly List<Declaration> Declarations = [];
        public readonly List<HeaderProblem> Problems = [];
        public readonly HashSet<string> Namespaces = new(StringComparer.Ordinal);
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private readonly string _prefix = root.EndsWith('/') ? root : root + "/";

        public string Relative(string file) =>
            file.StartsWith(_prefix, StringComparison.Ordinal) ? file[_prefix.Length..] : file;

        private (string Header, int Line)? InHeaders(CXCursor cursor)
        {
            var (file, line) = Cursors.Location(cursor);
            if (file.Length == 0) return null;
            var full = Path.GetFullPath(file);
            return full.StartsWith(_prefix, StringComparison.Ordinal) ? (full[_prefix.Length..], line) : null;
        }

        public void Visit(CXCursor parent, bool insideRecord)
        {
            foreach (var c in Cursors.Children(parent))
            {
                if (InHeaders(c) is not { } where) continue;
                if (insideRecord && !IsPublic(c) && c.Kind != CXCursorKind.FriendDecl) continue;
                switch (c.Kind)
                {
                    case CXCursorKind.Namespace:
                        var name = Cursors.Spelling(c);
                        Namespaces.Add(name);
                        if (IsInternalNamespace(name, LibClang.clang_Cursor_isAnonymous(c) != 0)) break;
                        Visit(c, insideRecord: false);
                        break;
                    case CXCursorKind.LinkageSpec:
                        Visit(c, insideRecord: false);
                        break;
                    case CXCursorKind.ClassDecl or CXCursorKind.StructDecl or CXCursorKind.UnionDecl
                        or CXCursorKind.ClassTemplate or CXCursorKind.ClassTemplatePartialSpecialization:
                        Record(c, where);
                        break;
                    case CXCursorKind.EnumDecl:
                        Enum(c, where);
                        break;
                    case CXCursorKind.FunctionDecl or CXCursorKind.CXXMethod or CXCursorKind.Constructor
                        or CXCursorKind.ConversionFunction or CXCursorKind.FunctionTemplate:
                        Callable(c, where);
                        break;
                    case CXCursorKind.FieldDecl or CXCursorKind.VarDecl:
                        Variable(c, where);
                        break;
                    case CXCursorKind.TypedefDecl or CXCursorKind.TypeAliasDecl or CXCursorKind.TypeAliasTemplateDecl:
                        Typedef(c, where);
                        break;
                    case CXCursorKind.FriendDecl:
                        foreach (var f in Cursors.Children(c))
                        {
                            if (f.Kind is CXCursorKind.FunctionDecl or CXCursorKind.FunctionTemplate) Callable(f, where);
                        }
                        break;
                    case CXCursorKind.UsingDirective:
                        Problems.Add(new HeaderProblem(where.Header, where.Line,
                            $"'using namespace {Target(c)}' in {Qualified(parent)} makes its names part of the SDK's namespace"));
                        break;
                    case CXCursorKind.UsingDeclaration when !insideRecord:
                        Problems.Add(new HeaderProblem(where.Header, where.Line,
                            $"'using {Target(c)}' brings a name into {Qualified(parent)} that the list does not declare there; declare it instead"));
                        break;
                    case CXCursorKind.NamespaceAlias:
                        Problems.Add(new HeaderProblem(where.Header, where.Line,
                            $"namespace alias {Qualified(c)} = {Target(c)} is not SDK API"));
                        break;
                }
            }
        }

        private static bool IsPublic(CXCursor c) =>
            LibClang.clang_getCXXAccessSpecifier(c) is CX_CXXAccessSpecifier.Public or CX_CXXAccessSpecifier.Invalid;

        private static string Target(CXCursor c)
        {
            var referenced = Cursors.Children(c).Where(r => r.Kind is CXCursorKind.NamespaceRef or CXCursorKind.TypeRef
                or CXCursorKind.TemplateRef or CXCursorKind.OverloadedDeclRef or CXCursorKind.DeclRefExpr).ToList();
            if (referenced.Count == 0) return Cursors.Spelling(c);
            var last = LibClang.clang_getCursorReferenced(referenced[^1]);
            return Cursors.IsNull(last) ? Cursors.Spelling(c) : Qualified(last);
        }

        private bool FirstTime(CXCursor c)
        {
            var usr = Cursors.Usr(c);
            return usr.Length == 0 || _seen.Add(usr);
        }

        private void Record(CXCursor c, (string Header, int Line) where)
        {
            var isDefinition = LibClang.clang_isCursorDefinition(c) != 0;
            if (!isDefinition && !Cursors.IsNull(LibClang.clang_getCursorDefinition(c))) return; // the definition counts
            if (Cursors.Spelling(c).Length == 0) return; // an anonymous struct is part of its variable
            var tag = c.Kind is CXCursorKind.ClassTemplate or CXCursorKind.ClassTemplatePartialSpecialization
                ? LibClang.clang_getTemplateCursorKind(c)
                : c.Kind;
            var kind = tag == CXCursorKind.StructDecl ? "struct" : "class";
            // A class only ever forward-declared is named here but defined nowhere: its header is not this one.
            if (FirstTime(c)) Add(c, where, kind, "", "", [], isDefinition ? [] : ["forward-declared"]);
            if (!isDefinition) return;
            foreach (var b in Cursors.Children(c).Where(b => b.Kind == CXCursorKind.CXXBaseSpecifier))
            {
                if (LibClang.clang_getCXXAccessSpecifier(b) != CX_CXXAccessSpecifier.Public) continue;
                var baseDecl = LibClang.clang_getTypeDeclaration(LibClang.clang_getCursorType(b));
                if (IsInternal(baseDecl))
                {
                    Problems.Add(new HeaderProblem(where.Header, where.Line,
                        $"{Qualified(c)} derives publicly from {Qualified(baseDecl)}: its public members become SDK API"));
                }
            }
            Visit(c, insideRecord: true);
        }

        private void Enum(CXCursor c, (string Header, int Line) where)
        {
            if (LibClang.clang_isCursorDefinition(c) == 0 && !Cursors.IsNull(LibClang.clang_getCursorDefinition(c))) return;
            if (Cursors.Spelling(c).Length == 0) return;
            var scoped = LibClang.clang_EnumDecl_isScoped(c) != 0 ? "enum class" : "enum";
            if (FirstTime(c)) Add(c, where, "enum", scoped, scoped, [], []);
            foreach (var e in Cursors.Children(c).Where(e => e.Kind == CXCursorKind.EnumConstantDecl))
            {
                if (InHeaders(e) is { } at && FirstTime(e)) Add(e, at, "enumerator", "", "", [], []);
            }
        }

        private void Callable(CXCursor c, (string Header, int Line) where)
        {
            if (!Cursors.Equal(c, LibClang.clang_getCanonicalCursor(c))) return; // a redeclaration or out-of-line definition
            if (!FirstTime(c)) return;
            var function = c.Kind == CXCursorKind.FunctionTemplate ? LibClang.clang_getTemplateCursorKind(c) : c.Kind;
            if (function == CXCursorKind.Destructor) return;
            var parent = LibClang.clang_getCursorSemanticParent(c);
            var inClass = parent.Kind is CXCursorKind.ClassDecl or CXCursorKind.StructDecl or CXCursorKind.UnionDecl
                or CXCursorKind.ClassTemplate or CXCursorKind.ClassTemplatePartialSpecialization;
            var kind = function == CXCursorKind.Constructor ? "constructor" : inClass ? "method" : "function";
            var parameters = Cursors.Children(c).Where(p => p.Kind == CXCursorKind.ParmDecl).Select(Parameter).ToList();
            var qualifiers = new List<string>();
            if (inClass)
            {
                if (LibClang.clang_CXXMethod_isConst(c) != 0) qualifiers.Add("const");
                if (LibClang.clang_CXXMethod_isStatic(c) != 0) qualifiers.Add("static");
                if (LibClang.clang_CXXMethod_isDeleted(c) != 0) qualifiers.Add("deleted");
                if (LibClang.clang_CXXMethod_isDefaulted(c) != 0) qualifiers.Add("defaulted");
                switch (LibClang.clang_Type_getCXXRefQualifier(LibClang.clang_getCursorType(c)))
                {
                    case CXRefQualifierKind.LValue: qualifiers.Add("&"); break;
                    case CXRefQualifierKind.RValue: qualifiers.Add("&&"); break;
                }
            }
            string type = "", canonical = "";
            if (kind != "constructor")
            {
                var result = LibClang.clang_getCursorResultType(c);
                type = Cursors.FullyQualified(result, c);
                canonical = Cursors.TypeSpelling(LibClang.clang_getCanonicalType(result));
            }
            var copyOrMove = inClass && (LibClang.clang_CXXConstructor_isCopyConstructor(c) != 0 ||
                LibClang.clang_CXXConstructor_isMoveConstructor(c) != 0 ||
                LibClang.clang_CXXMethod_isCopyAssignmentOperator(c) != 0 ||
                LibClang.clang_CXXMethod_isMoveAssignmentOperator(c) != 0);
            Add(c, where, kind, type, canonical, parameters, qualifiers, copyOrMove);
        }

        private void Variable(CXCursor c, (string Header, int Line) where)
        {
            if (!Cursors.Equal(c, LibClang.clang_getCanonicalCursor(c))) return;
            if (Cursors.Spelling(c).Length == 0 || !FirstTime(c)) return;
            var type = LibClang.clang_getCursorType(c);
            var qualifiers = LibClang.clang_getCursorSemanticParent(c).Kind is CXCursorKind.ClassDecl or CXCursorKind.StructDecl
                or CXCursorKind.ClassTemplate && c.Kind == CXCursorKind.VarDecl ? new List<string> { "static" } : [];
            Add(c, where, "variable", Cursors.FullyQualified(type, c),
                Cursors.TypeSpelling(LibClang.clang_getCanonicalType(type)), [], qualifiers);
        }

        private void Typedef(CXCursor c, (string Header, int Line) where)
        {
            if (!FirstTime(c)) return;
            var alias = c.Kind == CXCursorKind.TypeAliasTemplateDecl
                ? Cursors.Children(c).FirstOrDefault(a => a.Kind == CXCursorKind.TypeAliasDecl)
                : c;
            var type = LibClang.clang_getTypedefDeclUnderlyingType(alias);
            Add(c, where, "typedef", Cursors.FullyQualified(type, alias),
                Cursors.TypeSpelling(LibClang.clang_getCanonicalType(type)), [], []);
        }

        private HeaderParameter Parameter(CXCursor p)
        {
            var type = LibClang.clang_getCursorType(p);
            return new HeaderParameter(Cursors.FullyQualified(type, p),
                Cursors.TypeSpelling(LibClang.clang_getCanonicalType(type)), DefaultArgument(p));
        }

        // The default as written: the tokens after `=`, or inside a macro (whose expansion the tokens follow) the
        // text after the parameter's name in the macro's definition.
        private string? DefaultArgument(CXCursor p)
        {
            var expression = Cursors.Children(p).Where(IsExpression).Select(e => (CXCursor?)e).LastOrDefault();
            if (expression is not { } value) return null;
            if (Cursors.IsFromMacro(p)) return DefaultInMacro(p) ?? Cursors.PrettyPrinted(value);
            var tokens = unit.Tokens(p).Select(t => t.Spelling).ToList();
            var equals = tokens.IndexOf("=");
            return equals < 0 ? Cursors.PrettyPrinted(value) : CppText.Join(tokens.Skip(equals + 1));
        }

        private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);

        private string? DefaultInMacro(CXCursor p)
        {
            var (file, offset) = Cursors.SpellingOffset(p);
            if (file.Length == 0 || !File.Exists(file)) return null;
            if (!_texts.TryGetValue(file, out var text)) _texts[file] = text = File.ReadAllText(file).Replace("\\\n", "  ");
            var name = Cursors.Spelling(p);
            if (name.Length == 0 || offset + name.Length > text.Length || string.CompareOrdinal(text, offset, name, 0, name.Length) != 0) return null;
            var i = offset + name.Length;
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i >= text.Length || text[i] != '=') return null;
            var start = ++i;
            var depth = 0;
            for (; i < text.Length; i++)
            {
                var c = text[i];
                if (c is '(' or '{' or '[' or '<') depth++;
                else if (c is ')' or '}' or ']' or '>' && depth > 0) depth--;
                else if (c is ',' or ')' && depth == 0) break;
            }
            return CppText.Join(CppText.Tokens(text[start..i]));
        }

        // Expressions (the default argument) have cursor kinds 100..199 (CXCursor_FirstExpr..LastExpr).
        private static bool IsExpression(CXCursor c) => (int)c.Kind is >= 100 and < 200;

        private void Add(CXCursor c, (string Header, int Line) where, string kind, string type, string canonical,
            IReadOnlyList<HeaderParameter> parameters, IReadOnlyList<string> qualifiers, bool copyOrMove = false)
        {
            var templateParameters = Cursors.Children(c)
                .Where(t => t.Kind is CXCursorKind.TemplateTypeParameter or CXCursorKind.NonTypeTemplateParameter
                    or CXCursorKind.TemplateTemplateParameter)
                .Select(Cursors.Spelling)
                .ToList();
            Declarations.Add(new Declaration(kind, Qualified(c), where.Header, where.Line, type, canonical, parameters,
                qualifiers, templateParameters, Cursors.Usr(c)) { IsCopyOrMove = copyOrMove });
        }
    }

    /// <summary>The qualified name as the list writes it: namespaces, classes and enums, no template arguments.</summary>
    public static string Qualified(CXCursor c)
    {
        var parts = new List<string>();
        for (var p = c; !Cursors.IsNull(p) && p.Kind != CXCursorKind.TranslationUnit; p = LibClang.clang_getCursorSemanticParent(p))
        {
            if (p.Kind == CXCursorKind.LinkageSpec) continue;
            if (p.Kind == CXCursorKind.Namespace && LibClang.clang_Cursor_isInlineNamespace(p) != 0) continue;
            var name = p.Kind == CXCursorKind.ConversionFunction
                ? "operator " + Cursors.FullyQualified(LibClang.clang_getCursorResultType(p), p)
                : Cursors.Spelling(p);
            if (p.Kind is not (CXCursorKind.FunctionDecl or CXCursorKind.CXXMethod or CXCursorKind.FunctionTemplate
                or CXCursorKind.ConversionFunction) || !name.StartsWith("operator", StringComparison.Ordinal))
            {
                var angle = name.IndexOf('<');
                if (angle > 0) name = name[..angle];
            }
            parts.Add(p.Kind == CXCursorKind.Namespace && name.Length == 0 ? "(anonymous)" : name);
        }
        parts.Reverse();
        return string.Join("::", parts);
    }

    /// <summary>Whether a declaration sits in poplar_emulator, an anonymous namespace or a detail namespace.</summary>
    public static bool IsInternal(CXCursor c)
    {
        for (var p = c; !Cursors.IsNull(p) && p.Kind != CXCursorKind.TranslationUnit; p = LibClang.clang_getCursorSemanticParent(p))
        {
            if (p.Kind == CXCursorKind.Namespace &&
                IsInternalNamespace(Cursors.Spelling(p), LibClang.clang_Cursor_isAnonymous(p) != 0)) return true;
        }
        return false;
    }
}
