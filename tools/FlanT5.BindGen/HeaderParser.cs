using System.Globalization;
using System.Text;
using FlanT5.Clang;

namespace FlanT5.BindGen;

/// <summary>
/// Parses one C header with libclang and returns its declarations (those spelled in the header itself, not in
/// its includes) mapped to blittable C# types. Anything it cannot map faithfully is an error, never a guess.
/// </summary>
internal sealed unsafe class HeaderParser : IDisposable
{
    // Fixed-width typedefs map by name, and their size is verified: a size_t of 4 bytes means the builtin
    // headers were not found and clang fell back to int (the silent failure this check exists for).
    private static readonly Dictionary<string, (string CSharp, long Size)> KnownTypedefs = new(StringComparer.Ordinal)
    {
        ["int8_t"] = ("sbyte", 1), ["uint8_t"] = ("byte", 1),
        ["int16_t"] = ("short", 2), ["uint16_t"] = ("ushort", 2),
        ["int32_t"] = ("int", 4), ["uint32_t"] = ("uint", 4),
        ["int64_t"] = ("long", 8), ["uint64_t"] = ("ulong", 8),
        ["size_t"] = ("nuint", 8), ["ptrdiff_t"] = ("nint", 8),
        ["intptr_t"] = ("nint", 8), ["uintptr_t"] = ("nuint", 8),
    };

    private static readonly HashSet<string> FixedBufferTypes = new(StringComparer.Ordinal)
    {
        "bool", "byte", "short", "int", "long", "char", "sbyte", "ushort", "uint", "ulong", "float", "double",
    };

    private readonly TranslationUnit _unit;
    private readonly string[] _headerLines;

    private HeaderParser(TranslationUnit unit, string[] headerLines)
    {
        _unit = unit;
        _headerLines = headerLines;
    }

    /// <summary>Parses the header with the given clang arguments; throws when clang reports any error.</summary>
    public static HeaderModel Parse(string headerPath, IReadOnlyList<string> clangArguments)
    {
        using var parser = Open(headerPath, clangArguments);
        return parser.Read();
    }

    private static HeaderParser Open(string headerPath, IReadOnlyList<string> clangArguments)
    {
        if (!File.Exists(headerPath)) throw new FileNotFoundException($"header '{headerPath}' does not exist", headerPath);
        var unit = TranslationUnit.Parse(headerPath, clangArguments,
            LibClang.TranslationUnitDetailedPreprocessingRecord | LibClang.TranslationUnitSkipFunctionBodies);
        try
        {
            var errors = unit.Errors();
            if (errors.Count > 0)
            {
                throw new InvalidOperationException(
                    $"'{headerPath}' has {errors.Count} error(s) (clang arguments: {string.Join(' ', clangArguments)}):\n" +
                    string.Join('\n', errors.Select(e => e.Message)));
            }
            return new HeaderParser(unit, File.ReadAllLines(headerPath));
        }
        catch
        {
            unit.Dispose();
            throw;
        }
    }

    public void Dispose() => _unit.Dispose();

    private HeaderModel Read()
    {
        var constants = new List<ConstantDecl>();
        var enums = new List<EnumDecl>();
        var structs = new List<StructDecl>();
        var functions = new List<FunctionDecl>();
        var seenStructs = new HashSet<string>(StringComparer.Ordinal);
        var top = Children(_unit.Cursor)
            .Where(c => LibClang.clang_Location_isFromMainFile(LibClang.clang_getCursorLocation(c)) != 0)
            .ToList();
        var typedefDocs = top.Where(c => c.Kind == CXCursorKind.TypedefDecl)
            .Select(c => (Name: Spelling(c), Doc: Doc(c)))
            .Where(t => t.Doc is not null)
            .GroupBy(t => t.Name)
            .ToDictionary(g => g.Key, g => g.First().Doc, StringComparer.Ordinal);

        foreach (var cursor in top)
        {
            switch (cursor.Kind)
            {
                case CXCursorKind.MacroDefinition:
                    if (ReadConstant(cursor) is { } constant) constants.Add(constant);
                    break;
                case CXCursorKind.EnumDecl:
                    if (LibClang.clang_isCursorDefinition(cursor) != 0) enums.Add(ReadEnum(cursor, typedefDocs));
                    break;
                case CXCursorKind.StructDecl:
                    var name = Spelling(cursor);
                    if (name.Length == 0) throw Unsupported(cursor, "an anonymous struct");
                    if (seenStructs.Contains(name)) break;
                    var definition = LibClang.clang_getCursorDefinition(cursor);
                    if (LibClang.clang_Cursor_isNull(definition) != 0)
                    {
                        seenStructs.Add(name);
                        structs.Add(new StructDecl(name, Opaque: true, [], 0, 0, Doc(cursor) ?? typedefDocs.GetValueOrDefault(name)));
                    }
                    else if (LibClang.clang_isCursorDefinition(cursor) != 0)
                    {
                        seenStructs.Add(name);
                        structs.Add(ReadStruct(cursor, name, typedefDocs));
                    }
                    break;
                case CXCursorKind.FunctionDecl:
                    functions.Add(ReadFunction(cursor));
                    break;
                case CXCursorKind.TypedefDecl:
                    CheckTypedef(cursor);
                    break;
                case CXCursorKind.MacroExpansion:
                case CXCursorKind.InclusionDirective:
                    break;
                default:
                    throw Unsupported(cursor, $"a top-level {cursor.Kind}");
            }
        }
        return new HeaderModel(constants, enums, structs, functions);
    }

    private ConstantDecl? ReadConstant(CXCursor cursor)
    {
        if (LibClang.clang_Cursor_isMacroFunctionLike(cursor) != 0) return null;
        var tokens = Tokens(cursor);
        if (tokens.Count != 2 || tokens[1].Kind != CXTokenKind.Literal) return null;
        var name = tokens[0].Spelling;
        var literal = tokens[1].Spelling;
        if (!long.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out var value)) return null;
        var type = value <= int.MaxValue ? "int" : "long";
        return new ConstantDecl(name, type, literal, $"#define {name} {literal}", PrecedingDocComment(cursor));
    }

    private EnumDecl ReadEnum(CXCursor cursor, Dictionary<string, string?> typedefDocs)
    {
        var name = Spelling(cursor);
        if (name.Length == 0) throw Unsupported(cursor, "an anonymous enum");
        var integerType = LibClang.clang_getEnumDeclIntegerType(cursor);
        var members = Children(cursor)
            .Where(c => c.Kind == CXCursorKind.EnumConstantDecl)
            .Select(c => new EnumMember(Spelling(c), LibClang.clang_getEnumConstantDeclValue(c), Doc(c)))
            .ToList();
        return new EnumDecl(name, Map(integerType, cursor), members, Doc(cursor) ?? typedefDocs.GetValueOrDefault(name));
    }

    private StructDecl ReadStruct(CXCursor cursor, string name, Dictionary<string, string?> typedefDocs)
    {
        var recordType = LibClang.clang_getCursorType(cursor);
        var fields = new List<FieldDecl>();
        foreach (var child in Children(cursor))
        {
            if (child.Kind != CXCursorKind.FieldDecl) throw Unsupported(child, $"a {child.Kind} inside struct {name}");
            var fieldName = Spelling(child);
            var fieldType = LibClang.clang_getCursorType(child);
            var offsetBits = OffsetOf(recordType, fieldName);
            if (offsetBits < 0 || offsetBits % 8 != 0) throw Unsupported(child, $"field {name}.{fieldName} at bit offset {offsetBits}");
            var size = LibClang.clang_Type_getSizeOf(fieldType);
            var spelling = TypeSpelling(fieldType);
            TypeRef type;
            int? fixedLength = null;
            if (fieldType.Kind == CXTypeKind.ConstantArray)
            {
                var element = Map(LibClang.clang_getArrayElementType(fieldType), child);
                if (!FixedBufferTypes.Contains(element.CSharp)) throw Unsupported(child, $"an array of {element.CSpelling}");
                fixedLength = checked((int)LibClang.clang_getArraySize(fieldType));
                type = new TypeRef(element.CSharp, spelling);
            }
            else
            {
                type = Map(fieldType, child);
            }
            fields.Add(new FieldDecl(fieldName, type, fixedLength, offsetBits / 8, size, Doc(child)));
        }
        return new StructDecl(name, Opaque: false, fields, LibClang.clang_Type_getSizeOf(recordType),
            LibClang.clang_Type_getAlignOf(recordType), Doc(cursor) ?? typedefDocs.GetValueOrDefault(name));
    }

    private FunctionDecl ReadFunction(CXCursor cursor)
    {
        var name = Spelling(cursor);
        var count = LibClang.clang_Cursor_getNumArguments(cursor);
        if (count < 0) throw Unsupported(cursor, $"function {name} without a prototype");
        var parameters = new List<ParamDecl>();
        for (uint i = 0; i < count; i++)
        {
            var argument = LibClang.clang_Cursor_getArgument(cursor, i);
            var parameterName = Spelling(argument);
            if (parameterName.Length == 0) parameterName = $"param{i}";
            parameters.Add(new ParamDecl(parameterName, Map(LibClang.clang_getCursorType(argument), argument)));
        }
        return new FunctionDecl(name, Map(LibClang.clang_getCursorResultType(cursor), cursor), parameters, Doc(cursor));
    }

    // A typedef is emitted under the tag's name, so the two must agree (typedef struct x x;).
    private void CheckTypedef(CXCursor cursor)
    {
        var name = Spelling(cursor);
        var underlying = StripElaborated(LibClang.clang_getTypedefDeclUnderlyingType(cursor));
        if (underlying.Kind is CXTypeKind.Record or CXTypeKind.Enum)
        {
            var tag = DeclarationName(underlying);
            if (tag != name) throw Unsupported(cursor, $"typedef {name} of a tag named '{tag}' (the names must match)");
        }
        else
        {
            Map(LibClang.clang_getCursorType(cursor), cursor);
        }
    }

    private TypeRef Map(CXType type, CXCursor where) => new(ToCSharp(type, where), TypeSpelling(type));

    private string ToCSharp(CXType type, CXCursor where)
    {
        type = StripElaborated(type);
        switch (type.Kind)
        {
            case CXTypeKind.Typedef:
            {
                var name = LibClang.Take(LibClang.clang_getTypedefName(type));
                if (KnownTypedefs.TryGetValue(name, out var known))
                {
                    var size = LibClang.clang_Type_getSizeOf(type);
                    if (size != known.Size)
                    {
                        throw new InvalidOperationException(
                            $"{name} is {size} bytes, expected {known.Size}: clang did not find the real definition " +
                            "(are the compiler's builtin headers, stddef.h/stdint.h, on the include path?)");
                    }
                    return known.CSharp;
                }
                var underlying = StripElaborated(
                    LibClang.clang_getTypedefDeclUnderlyingType(LibClang.clang_getTypeDeclaration(type)));
                return underlying.Kind is CXTypeKind.Record or CXTypeKind.Enum ? name : ToCSharp(underlying, where);
            }
            case CXTypeKind.Pointer:
            {
                var pointee = LibClang.clang_getPointeeType(type);
                var canonical = LibClang.clang_getCanonicalType(pointee);
                if (canonical.Kind is CXTypeKind.CharS or CXTypeKind.CharU) return "byte*";
                if (canonical.Kind is CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto)
                {
                    throw Unsupported(where, "a function pointer");
                }
                return ToCSharp(pointee, where) + "*";
            }
            case CXTypeKind.Record:
            case CXTypeKind.Enum:
                return DeclarationName(type);
            case CXTypeKind.Void: return "void";
            case CXTypeKind.Bool: return "byte";
            case CXTypeKind.CharS: case CXTypeKind.SChar: return "sbyte";
            case CXTypeKind.CharU: case CXTypeKind.UChar: return "byte";
            case CXTypeKind.Short: return "short";
            case CXTypeKind.UShort: return "ushort";
            case CXTypeKind.Int: return "int";
            case CXTypeKind.UInt: return "uint";
            case CXTypeKind.Long: return "nint";
            case CXTypeKind.ULong: return "nuint";
            case CXTypeKind.LongLong: return "long";
            case CXTypeKind.ULongLong: return "ulong";
            case CXTypeKind.Float: return "float";
            case CXTypeKind.Double: return "double";
            default:
                throw Unsupported(where, $"the type '{TypeSpelling(type)}' ({type.Kind})");
        }
    }

    private static CXType StripElaborated(CXType type)
    {
        while (type.Kind == CXTypeKind.Elaborated) type = LibClang.clang_Type_getNamedType(type);
        return type;
    }

    private static string DeclarationName(CXType type) =>
        Spelling(LibClang.clang_getTypeDeclaration(StripElaborated(type)));

    private static string TypeSpelling(CXType type) => LibClang.Take(LibClang.clang_getTypeSpelling(type));

    private static string Spelling(CXCursor cursor) => LibClang.Take(LibClang.clang_getCursorSpelling(cursor));

    private static string? Doc(CXCursor cursor) =>
        DocComment.Clean(LibClang.Take(LibClang.clang_Cursor_getRawCommentText(cursor)));

    private static long OffsetOf(CXType record, string field)
    {
        var bytes = Encoding.UTF8.GetBytes(field + "\0");
        fixed (byte* name = bytes) return LibClang.clang_Type_getOffsetOf(record, name);
    }

    // libclang attaches no comment to macros; take a /** ... */ block that ends on the line just above.
    private string? PrecedingDocComment(CXCursor cursor)
    {
        uint line, column, offset;
        void* file;
        LibClang.clang_getSpellingLocation(LibClang.clang_getCursorLocation(cursor), &file, &line, &column, &offset);
        var end = (int)line - 2;
        if (end < 0 || end >= _headerLines.Length || !_headerLines[end].TrimEnd().EndsWith("*/", StringComparison.Ordinal))
        {
            return null;
        }
        for (var start = end; start >= 0; start--)
        {
            var text = _headerLines[start].TrimStart();
            if (text.StartsWith("/**", StringComparison.Ordinal))
            {
                return DocComment.Clean(string.Join('\n', _headerLines[start..(end + 1)]));
            }
            if (text.StartsWith("/*", StringComparison.Ordinal)) return null;
        }
        return null;
    }

    private IReadOnlyList<(CXTokenKind Kind, string Spelling)> Tokens(CXCursor cursor) => _unit.Tokens(cursor);

    private static List<CXCursor> Children(CXCursor parent) => Cursors.Children(parent);

    private NotSupportedException Unsupported(CXCursor cursor, string what)
    {
        uint line, column, offset;
        void* file;
        LibClang.clang_getSpellingLocation(LibClang.clang_getCursorLocation(cursor), &file, &line, &column, &offset);
        return new NotSupportedException($"line {line}, column {column}: the generator does not support {what}");
    }
}
