using System.Runtime.InteropServices;

namespace FlanT5.Clang;

/// <summary>An error clang reported: the formatted message and the file and line it points at.</summary>
public sealed record ClangError(string Message, string File, int Line);

/// <summary>One parsed source file with its index; disposing frees both.</summary>
public sealed unsafe class TranslationUnit : IDisposable
{
    private void* _index;
    private void* _unit;

    private TranslationUnit(void* index, void* unit)
    {
        _index = index;
        _unit = unit;
    }

    /// <summary>The libclang handle, for calls that take the translation unit (tokenize).</summary>
    public void* Handle => _unit;

    public CXCursor Cursor => LibClang.clang_getTranslationUnitCursor(_unit);

    /// <summary>Parses the file with the given clang arguments and libclang options (TranslationUnit* flags).</summary>
    public static TranslationUnit Parse(string path, IReadOnlyList<string> arguments, uint options)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' does not exist", path);
        var index = LibClang.clang_createIndex(0, 0);
        void* unit = null;
        var argv = arguments.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
        var file = Marshal.StringToCoTaskMemUTF8(path);
        try
        {
            fixed (nint* args = argv)
            {
                var error = LibClang.clang_parseTranslationUnit2(index, (byte*)file, (byte**)args, argv.Length,
                    null, 0, options, &unit);
                if (error != 0 || unit == null)
                {
                    throw new InvalidOperationException($"libclang could not parse '{path}' (CXErrorCode {error})");
                }
            }
            var parsed = new TranslationUnit(index, unit);
            index = null;
            unit = null;
            return parsed;
        }
        finally
        {
            if (unit != null) LibClang.clang_disposeTranslationUnit(unit);
            if (index != null) LibClang.clang_disposeIndex(index);
            Marshal.FreeCoTaskMem(file);
            foreach (var a in argv) Marshal.FreeCoTaskMem(a);
        }
    }

    /// <summary>Every diagnostic of error severity or worse, in clang's order.</summary>
    public IReadOnlyList<ClangError> Errors()
    {
        var errors = new List<ClangError>();
        var count = LibClang.clang_getNumDiagnostics(_unit);
        for (uint i = 0; i < count; i++)
        {
            var diagnostic = LibClang.clang_getDiagnostic(_unit, i);
            try
            {
                if (LibClang.clang_getDiagnosticSeverity(diagnostic) < LibClang.DiagnosticError) continue;
                var (file, line) = Cursors.FileAndLine(LibClang.clang_getDiagnosticLocation(diagnostic));
                errors.Add(new ClangError(
                    LibClang.Take(LibClang.clang_formatDiagnostic(diagnostic, LibClang.clang_defaultDiagnosticDisplayOptions())),
                    file, line));
            }
            finally
            {
                LibClang.clang_disposeDiagnostic(diagnostic);
            }
        }
        return errors;
    }

    /// <summary>The tokens of a cursor's extent, as kind and spelling.</summary>
    public IReadOnlyList<(CXTokenKind Kind, string Spelling)> Tokens(CXCursor cursor)
    {
        CXToken* tokens = null;
        uint count = 0;
        LibClang.clang_tokenize(_unit, LibClang.clang_getCursorExtent(cursor), &tokens, &count);
        try
        {
            var result = new List<(CXTokenKind, string)>((int)count);
            for (var i = 0; i < count; i++)
            {
                result.Add((LibClang.clang_getTokenKind(tokens[i]),
                    LibClang.Take(LibClang.clang_getTokenSpelling(_unit, tokens[i]))));
            }
            return result;
        }
        finally
        {
            if (tokens != null) LibClang.clang_disposeTokens(_unit, tokens, count);
        }
    }

    public void Dispose()
    {
        if (_unit != null) LibClang.clang_disposeTranslationUnit(_unit);
        if (_index != null) LibClang.clang_disposeIndex(_index);
        _unit = null;
        _index = null;
    }
}
