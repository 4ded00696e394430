using System.Runtime.InteropServices;

namespace FlanT5.Clang;

/// <summary>Small conveniences over cursors: children, names, where they are.</summary>
public static unsafe class Cursors
{
    /// <summary>The direct children of a cursor, in source order.</summary>
    public static List<CXCursor> Children(CXCursor parent)
    {
        var children = new List<CXCursor>();
        var handle = GCHandle.Alloc(children);
        try
        {
            LibClang.clang_visitChildren(parent, &CollectChild, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return children;
    }

    /// <summary>Every cursor below a cursor, depth first, in source order.</summary>
    public static List<CXCursor> Descendants(CXCursor parent)
    {
        var all = new List<CXCursor>();
        var handle = GCHandle.Alloc(all);
        try
        {
            LibClang.clang_visitChildren(parent, &CollectDescendant, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return all;
    }

    [UnmanagedCallersOnly]
    private static int CollectDescendant(CXCursor cursor, CXCursor parent, void* clientData)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr((nint)clientData).Target!).Add(cursor);
        return 2; // CXChildVisit_Recurse
    }

    [UnmanagedCallersOnly]
    private static int CollectChild(CXCursor cursor, CXCursor parent, void* clientData)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr((nint)clientData).Target!).Add(cursor);
        return 1; // CXChildVisit_Continue
    }

    public static string Spelling(CXCursor cursor) => LibClang.Take(LibClang.clang_getCursorSpelling(cursor));

    public static string Usr(CXCursor cursor) => LibClang.Take(LibClang.clang_getCursorUSR(cursor));

    public static string TypeSpelling(CXType type) => LibClang.Take(LibClang.clang_getTypeSpelling(type));

    public static bool IsNull(CXCursor cursor) => LibClang.clang_Cursor_isNull(cursor) != 0;

    public static bool Equal(CXCursor a, CXCursor b) => LibClang.clang_equalCursors(a, b) != 0;

    /// <summary>The file (as clang names it; empty for none) and line a cursor is written at.</summary>
    public static (string File, int Line) Location(CXCursor cursor) => FileAndLine(LibClang.clang_getCursorLocation(cursor));

    public static (string File, int Line) FileAndLine(CXSourceLocation location)
    {
        void* file;
        uint line, column, offset;
        LibClang.clang_getFileLocation(location, &file, &line, &column, &offset);
        return (file == null ? "" : LibClang.Take(LibClang.clang_getFileName(file)), (int)line);
    }

    /// <summary>Whether the cursor comes from a macro expansion (its text is in the macro, not where it is used).</summary>
    public static bool IsFromMacro(CXCursor cursor)
    {
        var location = LibClang.clang_getCursorLocation(cursor);
        void* spellingFile, expansionFile;
        uint spellingLine, spellingColumn, expansionLine, expansionColumn, offset;
        LibClang.clang_getSpellingLocation(location, &spellingFile, &spellingLine, &spellingColumn, &offset);
        LibClang.clang_getExpansionLocation(location, &expansionFile, &expansionLine, &expansionColumn, &offset);
        return spellingFile != expansionFile || spellingLine != expansionLine || spellingColumn != expansionColumn;
    }

    /// <summary>The file and character offset where a cursor's text is spelled (inside a macro: in its definition).</summary>
    public static (string File, int Offset) SpellingOffset(CXCursor cursor)
    {
        void* file;
        uint line, column, offset;
        LibClang.clang_getSpellingLocation(LibClang.clang_getCursorLocation(cursor), &file, &line, &column, &offset);
        return (file == null ? "" : LibClang.Take(LibClang.clang_getFileName(file)), (int)offset);
    }

    /// <summary>A declaration or expression as clang prints it back.</summary>
    public static string PrettyPrinted(CXCursor cursor)
    {
        var policy = LibClang.clang_getCursorPrintingPolicy(cursor);
        try
        {
            return LibClang.Take(LibClang.clang_getCursorPrettyPrinted(cursor, policy));
        }
        finally
        {
            LibClang.clang_PrintingPolicy_dispose(policy);
        }
    }

    /// <summary>The type spelled with every name fully qualified (poplar::Tensor, not Tensor), typedefs kept.</summary>
    public static string FullyQualified(CXType type, CXCursor context)
    {
        var policy = LibClang.clang_getCursorPrintingPolicy(context);
        try
        {
            return LibClang.Take(LibClang.clang_getFullyQualifiedName(type, policy, 0));
        }
        finally
        {
            LibClang.clang_PrintingPolicy_dispose(policy);
        }
    }
}
