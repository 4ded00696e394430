using System.Runtime.InteropServices;

namespace FlanT5.Clang;

// The part of libclang's C API (clang-c/Index.h) the repository's tools need. libclang.so comes from the
// libclang.runtime.linux-x64 package; the host finds it through the deps.json native asset.

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CXString
{
    public void* Data;
    public uint PrivateFlags;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CXCursor
{
    public CXCursorKind Kind;
    public int XData;
    public void* Data0;
    public void* Data1;
    public void* Data2;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CXType
{
    public CXTypeKind Kind;
    public void* Data0;
    public void* Data1;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CXSourceLocation
{
    public void* Ptr0;
    public void* Ptr1;
    public uint IntData;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CXSourceRange
{
    public void* Ptr0;
    public void* Ptr1;
    public uint BeginIntData;
    public uint EndIntData;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CXToken
{
    public uint Int0;
    public uint Int1;
    public uint Int2;
    public uint Int3;
    public void* PtrData;
}

public enum CXCursorKind
{
    StructDecl = 2,
    UnionDecl = 3,
    ClassDecl = 4,
    EnumDecl = 5,
    FieldDecl = 6,
    EnumConstantDecl = 7,
    FunctionDecl = 8,
    VarDecl = 9,
    ParmDecl = 10,
    TypedefDecl = 20,
    CXXMethod = 21,
    Namespace = 22,
    LinkageSpec = 23,
    Constructor = 24,
    Destructor = 25,
    ConversionFunction = 26,
    TemplateTypeParameter = 27,
    NonTypeTemplateParameter = 28,
    TemplateTemplateParameter = 29,
    FunctionTemplate = 30,
    ClassTemplate = 31,
    ClassTemplatePartialSpecialization = 32,
    NamespaceAlias = 33,
    UsingDirective = 34,
    UsingDeclaration = 35,
    TypeAliasDecl = 36,
    CXXAccessSpecifier = 39,
    TypeRef = 43,
    CXXBaseSpecifier = 44,
    TemplateRef = 45,
    NamespaceRef = 46,
    MemberRef = 47,
    OverloadedDeclRef = 49,
    DeclRefExpr = 101,
    MemberRefExpr = 102,
    CallExpr = 103,
    TranslationUnit = 350,
    MacroDefinition = 501,
    MacroExpansion = 502,
    InclusionDirective = 503,
    StaticAssert = 602,
    FriendDecl = 603,
    TypeAliasTemplateDecl = 601,
}

public enum CX_CXXAccessSpecifier
{
    Invalid = 0,
    Public = 1,
    Protected = 2,
    Private = 3,
}

public enum CXRefQualifierKind
{
    None = 0,
    LValue = 1,
    RValue = 2,
}

public enum CXTypeKind
{
    Invalid = 0,
    Void = 2,
    Bool = 3,
    CharU = 4,
    UChar = 5,
    UShort = 8,
    UInt = 9,
    ULong = 10,
    ULongLong = 11,
    CharS = 13,
    SChar = 14,
    Short = 16,
    Int = 17,
    Long = 18,
    LongLong = 19,
    Float = 21,
    Double = 22,
    Pointer = 101,
    Record = 105,
    Enum = 106,
    Typedef = 107,
    FunctionNoProto = 110,
    FunctionProto = 111,
    ConstantArray = 112,
    IncompleteArray = 114,
    LValueReference = 103,
    RValueReference = 104,
    Elaborated = 119,
}

public enum CXTokenKind
{
    Punctuation = 0,
    Keyword = 1,
    Identifier = 2,
    Literal = 3,
    Comment = 4,
}

public static unsafe partial class LibClang
{
    private const string Library = "libclang";

    public const uint DiagnosticError = 3;
    public const uint TranslationUnitDetailedPreprocessingRecord = 0x01;
    public const uint TranslationUnitSkipFunctionBodies = 0x40;

    [LibraryImport(Library)] public static partial void* clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Library)] public static partial void clang_disposeIndex(void* index);

    [LibraryImport(Library)]
    public static partial int clang_parseTranslationUnit2(void* index, byte* sourceFilename, byte** commandLineArgs,
        int numCommandLineArgs, void* unsavedFiles, uint numUnsavedFiles, uint options, void** outTranslationUnit);

    [LibraryImport(Library)] public static partial void clang_disposeTranslationUnit(void* translationUnit);
    [LibraryImport(Library)] public static partial uint clang_getNumDiagnostics(void* translationUnit);
    [LibraryImport(Library)] public static partial void* clang_getDiagnostic(void* translationUnit, uint index);
    [LibraryImport(Library)] public static partial uint clang_getDiagnosticSeverity(void* diagnostic);
    [LibraryImport(Library)] public static partial CXString clang_formatDiagnostic(void* diagnostic, uint options);
    [LibraryImport(Library)] public static partial uint clang_defaultDiagnosticDisplayOptions();
    [LibraryImport(Library)] public static partial void clang_disposeDiagnostic(void* diagnostic);

    [LibraryImport(Library)] public static partial CXCursor clang_getTranslationUnitCursor(void* translationUnit);

    [LibraryImport(Library)]
    public static partial uint clang_visitChildren(CXCursor parent,
        delegate* unmanaged<CXCursor, CXCursor, void*, int> visitor, void* clientData);

    [LibraryImport(Library)] public static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Library)] public static partial byte* clang_getCString(CXString text);
    [LibraryImport(Library)] public static partial void clang_disposeString(CXString text);
    [LibraryImport(Library)] public static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Location_isFromMainFile(CXSourceLocation location);

    [LibraryImport(Library)]
    public static partial void clang_getSpellingLocation(CXSourceLocation location, void** file, uint* line,
        uint* column, uint* offset);

    [LibraryImport(Library)] public static partial uint clang_isCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isNull(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_Cursor_getRawCommentText(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isMacroFunctionLike(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);

    [LibraryImport(Library)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Library)] public static partial CXString clang_getTypedefName(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Library)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Library)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getAlignOf(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getOffsetOf(CXType type, byte* fieldName);

    [LibraryImport(Library)] public static partial CXType clang_getCursorResultType(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Library)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);

    [LibraryImport(Library)] public static partial CXCursor clang_getCursorSemanticParent(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorLexicalParent(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCanonicalCursor(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorReferenced(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getSpecializedCursorTemplate(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_equalCursors(CXCursor a, CXCursor b);
    [LibraryImport(Library)] public static partial CXString clang_getCursorUSR(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_isInvalidDeclaration(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isAnonymous(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isInlineNamespace(CXCursor cursor);
    [LibraryImport(Library)] public static partial CX_CXXAccessSpecifier clang_getCXXAccessSpecifier(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_EnumDecl_isScoped(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursorKind clang_getTemplateCursorKind(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXMethod_isConst(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXMethod_isStatic(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXMethod_isDeleted(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXMethod_isDefaulted(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXMethod_isCopyAssignmentOperator(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXMethod_isMoveAssignmentOperator(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXConstructor_isCopyConstructor(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_CXXConstructor_isMoveConstructor(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXRefQualifierKind clang_Type_getCXXRefQualifier(CXType type);
    [LibraryImport(Library)] public static partial uint clang_isConstQualifiedType(CXType type);
    [LibraryImport(Library)] public static partial void* clang_getCursorPrintingPolicy(CXCursor cursor);
    [LibraryImport(Library)] public static partial void clang_PrintingPolicy_dispose(void* policy);
    [LibraryImport(Library)] public static partial CXString clang_getFullyQualifiedName(CXType type, void* policy, uint withGlobalNamespacePrefix);
    [LibraryImport(Library)] public static partial CXSourceLocation clang_getDiagnosticLocation(void* diagnostic);

    [LibraryImport(Library)]
    public static partial void clang_getFileLocation(CXSourceLocation location, void** file, uint* line, uint* column,
        uint* offset);

    [LibraryImport(Library)] public static partial CXString clang_getFileName(void* file);

    [LibraryImport(Library)]
    public static partial void clang_getExpansionLocation(CXSourceLocation location, void** file, uint* line, uint* column,
        uint* offset);

    [LibraryImport(Library)] public static partial CXString clang_getCursorPrettyPrinted(CXCursor cursor, void* policy);

    [LibraryImport(Library)]
    public static partial void clang_tokenize(void* translationUnit, CXSourceRange range, CXToken** tokens, uint* count);

    [LibraryImport(Library)] public static partial CXString clang_getTokenSpelling(void* translationUnit, CXToken token);
    [LibraryImport(Library)] public static partial CXTokenKind clang_getTokenKind(CXToken token);
    [LibraryImport(Library)] public static partial void clang_disposeTokens(void* translationUnit, CXToken* tokens, uint count);

    /// <summary>Copies and frees a CXString.</summary>
    public static string Take(CXString text)
    {
        try
        {
            var chars = clang_getCString(text);
            return chars == null ? "" : Marshal.PtrToStringUTF8((nint)chars) ?? "";
        }
        finally
        {
            clang_disposeString(text);
        }
    }
}
