namespace FlanT5.BindGen;

// What the generator knows about a header after parsing: declarations in source order, with the C spelling and the
// blittable C# type of every type use, and the layout libclang computed for the target.

/// <summary>A type use: the C# spelling emitted and the C spelling recorded in [NativeTypeName].</summary>
internal sealed record TypeRef(string CSharp, string CSpelling);

/// <summary>An object-like macro whose value is one integer literal.</summary>
internal sealed record ConstantDecl(string Name, string CSharpType, string Value, string Definition, string? Doc);

internal sealed record EnumMember(string Name, long Value, string? Doc);

internal sealed record EnumDecl(string Name, TypeRef Underlying, IReadOnlyList<EnumMember> Members, string? Doc);

/// <summary>A field; FixedLength is set for arrays (emitted as fixed buffers).</summary>
internal sealed record FieldDecl(string Name, TypeRef Type, int? FixedLength, long Offset, long Size, string? Doc);

/// <summary>A struct; Opaque when the header only declares it (handles), then it has no fields and no layout.</summary>
internal sealed record StructDecl(string Name, bool Opaque, IReadOnlyList<FieldDecl> Fields, long Size, long Alignment,
    string? Doc);

internal sealed record ParamDecl(string Name, TypeRef Type);

internal sealed record FunctionDecl(string Name, TypeRef Return, IReadOnlyList<ParamDecl> Parameters, string? Doc);

internal sealed record HeaderModel(
    IReadOnlyList<ConstantDecl> Constants,
    IReadOnlyList<EnumDecl> Enums,
    IReadOnlyList<StructDecl> Structs,
    IReadOnlyList<FunctionDecl> Functions);
