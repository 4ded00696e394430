using System.Text;

namespace FlanT5.BindGen;

/// <summary>
/// Writes the ClangSharp-style bindings: one static partial class of [LibraryImport] declarations and constants,
/// a nested Checked class with a throwing wrapper per status-returning function, then the enums and structs.
/// </summary>
internal static class BindingsWriter
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    };

    public static string Write(HeaderModel model, BindingOptions options, string headerDisplayPath)
    {
        var output = new StringBuilder();
        GeneratedHeader.Write(output, headerDisplayPath);
        output.Append("using System.Runtime.CompilerServices;\n");
        output.Append("using System.Runtime.InteropServices;\n\n");
        output.Append("namespace ").Append(options.Namespace).Append(";\n\n");

        output.Append("internal static unsafe partial class ").Append(options.ClassName).Append("\n{\n");
        output.Append("    public const string LibraryName = \"").Append(options.LibraryName).Append("\";\n");
        foreach (var constant in model.Constants)
        {
            output.Append('\n');
            DocComment.Write(output, constant.Doc, "    ");
            output.Append("    [NativeTypeName(\"").Append(constant.Definition).Append("\")]\n");
            output.Append("    public const ").Append(constant.CSharpType).Append(' ').Append(constant.Name)
                .Append(" = ").Append(constant.Value).Append(";\n");
        }
        foreach (var function in model.Functions)
        {
            output.Append('\n');
            WriteImport(output, function);
        }
        WriteChecked(output, model, options);
        output.Append("}\n");

        foreach (var e in model.Enums)
        {
            output.Append('\n');
            WriteEnum(output, e);
        }
        foreach (var s in model.Structs)
        {
            output.Append('\n');
            WriteStruct(output, s);
        }
        return output.ToString();
    }

    private static void WriteImport(StringBuilder output, FunctionDecl function)
    {
        DocComment.Write(output, function.Doc, "    ");
        output.Append("    [LibraryImport(LibraryName)]\n");
        output.Append("    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]\n");
        if (NativeTypeName(function.Return) is { } returnName)
        {
            output.Append("    [return: ").Append(returnName).Append("]\n");
        }
        output.Append("    public static partial ").Append(function.Return.CSharp).Append(' ').Append(function.Name).Append('(');
        output.Append(string.Join(", ", function.Parameters.Select(p =>
            (NativeTypeName(p.Type) is { } n ? "[" + n + "] " : "") + p.Type.CSharp + " " + Identifier(p.Name))));
        output.Append(");\n");
    }

    private static void WriteChecked(StringBuilder output, HeaderModel model, BindingOptions options)
    {
        var checkedFunctions = model.Functions.Where(f => f.Return.CSharp == options.StatusType).ToList();
        if (checkedFunctions.Count == 0) return;
        output.Append('\n');
        output.Append("    /// <summary>\n");
        output.Append("    /// Throwing wrappers of every function that returns ").Append(options.StatusType)
            .Append(": each passes the status to\n");
        output.Append("    /// ").Append(options.StatusCheck)
            .Append(", which reads the native message at once and throws the matching exception.\n");
        output.Append("    /// </summary>\n");
        output.Append("    public static class Checked\n    {\n");
        var first = true;
        foreach (var function in checkedFunctions)
        {
            if (!first) output.Append('\n');
            first = false;
            output.Append("        /// <inheritdoc cref=\"").Append(options.ClassName).Append('.').Append(function.Name)
                .Append("\"/>\n");
            output.Append("        public static void ").Append(function.Name).Append('(')
                .Append(string.Join(", ", function.Parameters.Select(p => p.Type.CSharp + " " + Identifier(p.Name))))
                .Append(")\n");
            output.Append("            => ").Append(options.StatusCheck).Append('(').Append(options.ClassName).Append('.')
                .Append(function.Name).Append('(')
                .Append(string.Join(", ", function.Parameters.Select(p => Identifier(p.Name))))
                .Append("), \"").Append(function.Name).Append("\");\n");
        }
        output.Append("    }\n");
    }

    private static void WriteEnum(StringBuilder output, EnumDecl e)
    {
        DocComment.Write(output, e.Doc, "");
        if (NativeTypeName(e.Underlying) is { } name) output.Append('[').Append(name).Append("]\n");
        output.Append("internal enum ").Append(e.Name);
        if (e.Underlying.CSharp != "int") output.Append(" : ").Append(e.Underlying.CSharp);
        output.Append("\n{\n");
        var first = true;
        foreach (var member in e.Members)
        {
            if (!first && member.Doc is not null) output.Append('\n');
            first = false;
            DocComment.Write(output, member.Doc, "    ");
            output.Append("    ").Append(member.Name).Append(" = ").Append(member.Value).Append(",\n");
        }
        output.Append("}\n");
    }

    private static void WriteStruct(StringBuilder output, StructDecl s)
    {
        DocComment.Write(output, s.Doc, "");
        var isUnsafe = s.Fields.Any(f => f.FixedLength is not null || f.Type.CSharp.EndsWith('*'));
        output.Append("internal ").Append(isUnsafe ? "unsafe " : "").Append("partial struct ").Append(s.Name).Append("\n{\n");
        var first = true;
        foreach (var field in s.Fields)
        {
            if (!first) output.Append('\n');
            first = false;
            DocComment.Write(output, field.Doc, "    ");
            if (NativeTypeName(field.Type) is { } name) output.Append("    [").Append(name).Append("]\n");
            output.Append("    public ");
            if (field.FixedLength is { } length)
            {
                output.Append("fixed ").Append(field.Type.CSharp).Append(' ').Append(Identifier(field.Name))
                    .Append('[').Append(length).Append("];\n");
            }
            else
            {
                output.Append(field.Type.CSharp).Append(' ').Append(Identifier(field.Name)).Append(";\n");
            }
        }
        output.Append("}\n");
    }

    // The C spelling is recorded wherever it differs from the C# one (as ClangSharp does).
    private static string? NativeTypeName(TypeRef type) =>
        Normalize(type.CSpelling) == Normalize(type.CSharp) ? null : $"NativeTypeName(\"{type.CSpelling}\")";

    private static string Normalize(string spelling) => spelling.Replace(" ", "", StringComparison.Ordinal);

    private static string Identifier(string name) => Keywords.Contains(name) ? "@" + name : name;
}
