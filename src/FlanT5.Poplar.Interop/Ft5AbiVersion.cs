namespace FlanT5.Poplar.Interop;

/// <summary>The ABI version rule: same major, and a library minor at least the bindings' minor.</summary>
internal static class Ft5AbiVersion
{
    public const uint Bindings = (Ft5Native.FT5_ABI_VERSION_MAJOR << 16) | Ft5Native.FT5_ABI_VERSION_MINOR;

    public static string Format(uint version) => $"{version >> 16}.{version & 0xFFFF}";

    /// <summary>Throws when a library of this version cannot serve these bindings.</summary>
    public static void EnsureCompatible(uint library, string libraryPath)
    {
        var major = library >> 16;
        var minor = library & 0xFFFF;
        if (major != Ft5Native.FT5_ABI_VERSION_MAJOR || minor < Ft5Native.FT5_ABI_VERSION_MINOR)
        {
            throw new InvalidOperationException(
                $"{libraryPath} has ABI version {Format(library)}, but these bindings need {Format(Bindings)} " +
                "(same major, minor at least as new); rebuild the native library or regenerate the bindings.");
        }
    }
}
