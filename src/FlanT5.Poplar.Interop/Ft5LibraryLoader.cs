using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Interop;

/// <summary>
/// Resolves the "ft5" imports of this assembly: probes for libft5.so once (NativeLibraryProbe), then calls
/// ft5_abi_version() eagerly and refuses a library with an incompatible ABI before any other call reaches it.
/// </summary>
internal static unsafe class Ft5LibraryLoader
{
    // Loaded at most once per process; the outcome (handle or exception) is then fixed, like the runtime's own binding.
    private static readonly Lazy<nint> Library = new(LoadAndCheck, LazyThreadSafetyMode.ExecutionAndPublication);

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "The resolver must be in place before the first import binds.")]
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(Ft5LibraryLoader).Assembly, Resolve);

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == Ft5Native.LibraryName ? Library.Value : 0;

    private static nint LoadAndCheck()
    {
        var (handle, path) = NativeLibraryProbe.FromEnvironment().Load();
        CheckAbi(handle, path);
        return handle;
    }

    /// <summary>Calls the library's ft5_abi_version() through its export (not the import, which is being resolved).</summary>
    internal static void CheckAbi(nint handle, string path)
    {
        if (!NativeLibrary.TryGetExport(handle, "ft5_abi_version", out var export))
        {
            throw new EntryPointNotFoundException($"{path} does not export ft5_abi_version: it is not libft5");
        }
        Ft5AbiVersion.EnsureCompatible(((delegate* unmanaged<uint>)export)(), path);
    }
}
