using FlanT5.Clang;

namespace FlanT5.BindGen;

/// <summary>What to generate from which header; the defaults are the ft5 bindings of FlanT5.Poplar.Interop.</summary>
internal sealed record BindingOptions
{
    public required string HeaderPath { get; init; }
    public string Namespace { get; init; } = "FlanT5.Poplar.Interop";
    public string LibraryName { get; init; } = "ft5";
    public string ClassName { get; init; } = "Ft5Native";
    public string LayoutClassName { get; init; } = "Ft5Layout";

    /// <summary>Functions returning this type get a throwing wrapper in the nested Checked class.</summary>
    public string StatusType { get; init; } = "ft5_status";

    /// <summary>The handwritten choke point the wrappers call with the status and the function's name.</summary>
    public string StatusCheck { get; init; } = "Ft5Status.Check";

    /// <summary>The ABI the layout is computed for; fixed so the output does not depend on the machine.</summary>
    public string Target { get; init; } = "x86_64-pc-linux-gnu";

    /// <summary>The header's path as the banner shows it; null = relative to the repository holding it.</summary>
    public string? DisplayPath { get; init; }

    /// <summary>Directory holding the compiler's stddef.h/stdint.h; null = found by <see cref="BuiltinIncludes"/>.</summary>
    public string? BuiltinIncludeDirectory { get; init; }
}
