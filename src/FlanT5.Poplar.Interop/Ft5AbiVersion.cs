namespace FlanT5.Poplar.Interop;

/// <summary>The ABI version rule: same major, and a library minor at least the bindings' minor.</summary>
internal static class Ft5AbiVersion
{
    public const uint Bindings = (Ft5Native.FT5_ABI_VERSION_MAJOR << 16) | Ft5Native.FT5_ABI_VERSION_MINOR;

    public static string Format(uint version) => $"{version >> 16}.{version & 0xFFFF}";

    /// <summary>Throws when a library of this version cannot serve these bindings.</summary>
    public static void EnsureCompatible(uint library, string libraryPath) => EnsureCompatible(library, Bindings, libraryPath);

    internal static void EnsureCompatible(uint library, uint required, string libraryPath)
    {
        if (library >> 16 != required >> 16 || (library & 0xFFFF) < (required & 0xFFFF))
        {
            throw new InvalidOperationException(
                $"{libraryPath} has ABI version {Format(library)}, but these bindings need {Format(required)} " +
                "(same major, minor at least as new); rebuild the native library or regenerate the bindings.");
        }
    }
}
