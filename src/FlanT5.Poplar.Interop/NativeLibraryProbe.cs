using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Interop;

/// <summary>
/// Where libft5.so may be, in order, and the loading of the first one that loads. Kept free of process state
/// (environment and base directory are inputs) so tests can probe directories of their own.
/// </summary>
internal sealed class NativeLibraryProbe(string? overridePath, string baseDirectory)
{
    public const string EnvironmentVariable = "FT5_NATIVE_PATH";
    public const string FileName = "libft5.so";

    /// <summary>The probe the process uses: FT5_NATIVE_PATH and the application's base directory.</summary>
    public static NativeLibraryProbe FromEnvironment() =>
        new(Environment.GetEnvironmentVariable(EnvironmentVariable), AppContext.BaseDirectory);

    /// <summary>
    /// Candidate paths in probe order. FT5_NATIVE_PATH (a file, or a directory holding libft5.so), when set, is the
    /// only candidate: someone who points at a build must get that build or an error, never another copy.
    /// Otherwise: the base directory, runtimes/linux-x64/native under it (NuGet layout), then
    /// artifacts/native/{Release,Debug,.} of the nearest folder above it that has them (a source checkout).
    /// </summary>
    public IReadOnlyList<string> Candidates()
    {
        if (!string.IsNullOrEmpty(overridePath))
        {
            return [Directory.Exists(overridePath) ? Path.Combine(overridePath, FileName) : overridePath];
        }
        var candidates = new List<string>
        {
            Path.Combine(baseDirectory, FileName),
            Path.Combine(baseDirectory, "runtimes", "linux-x64", "native", FileName),
        };
        for (var dir = Path.GetFullPath(baseDirectory); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var artifacts = Path.Combine(dir, "artifacts", "native");
            if (!Directory.Exists(artifacts)) continue;
            candidates.Add(Path.Combine(artifacts, "Release", FileName));
            candidates.Add(Path.Combine(artifacts, "Debug", FileName));
            // Where the build puts it when MSBuild's Configuration is not yet set as Directory.Build.props is read.
            candidates.Add(Path.Combine(artifacts, FileName));
            break;
        }
        return candidates;
    }

    /// <summary>Loads the first candidate that loads; the exception lists every attempt and why it failed.</summary>
    public (nint Handle, string Path) Load()
    {
        var attempts = new List<string>();
        if (!string.IsNullOrEmpty(overridePath)) attempts.Add($"{EnvironmentVariable}={overridePath}");
        foreach (var candidate in Candidates())
        {
            if (!File.Exists(candidate))
            {
                attempts.Add($"{candidate}: does not exist");
                continue;
            }
            try
            {
                return (NativeLibrary.Load(candidate), candidate);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                attempts.Add($"{candidate}: {e.Message}");
            }
        }
        var artifacts = Path.Combine("artifacts", "native");
        if (string.IsNullOrEmpty(overridePath) && !Candidates().Any(c => c.Contains(artifacts, StringComparison.Ordinal)))
        {
            attempts.Add($"no {artifacts} folder in {baseDirectory} or any folder above it");
        }
        throw new DllNotFoundException(
            $"{FileName} could not be loaded. Attempts, in order:\n  " + string.Join("\n  ", attempts) +
            $"\nBuild it (dotnet build builds native/ with CMake) or set {EnvironmentVariable} to the library or its folder.");
    }
}
