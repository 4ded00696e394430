namespace FlanT5.SdkConformance;

/// <summary>A parameter as the header declares it: fully qualified type, clang's canonical type, default (null: none).</summary>
internal sealed record HeaderParameter(string Type, string Canonical, string? Default)
{
    public override string ToString() => Default is null ? Type : $"{Type} = {Default}";
}

/// <summary>
/// One public declaration of the emulated SDK headers, in the list's terms: kind (function, method, constructor,
/// class, struct, enum, enumerator, variable, typedef), qualified name, the header it is in (relative to the include
/// directory), its type (return type, variable type, typedef target; `enum`/`enum class` for enums) and parameters.
/// </summary>
internal sealed record Declaration(
    string Kind,
    string QualifiedName,
    string Header,
    int Line,
    string Type,
    string TypeCanonical,
    IReadOnlyList<HeaderParameter> Parameters,
    IReadOnlyList<string> Qualifiers,
    IReadOnlyList<string> TemplateParameters,
    string Usr)
{
    /// <summary>A copy or move constructor or assignment operator: value semantics, which the list records only
    /// for a few classes. Compared with a row that has its parameters; without one, not a finding.</summary>
    public bool IsCopyOrMove { get; init; }

    public bool Has(string qualifier) => Qualifiers.Contains(qualifier);

    public bool IsCallable => Kind is "function" or "method" or "constructor";

    public string Signature => SignatureText.Of(Kind, QualifiedName, Type, Parameters.Select(p => p.ToString()), Qualifiers);
}

/// <summary>Something wrong with the headers that is not about one declaration's row (clang errors, leaks).</summary>
internal sealed record HeaderProblem(string Header, int Line, string What);
