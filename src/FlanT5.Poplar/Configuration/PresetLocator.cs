namespace FlanT5.Poplar.Configuration;

/// <summary>
/// Finds the run presets (<c>configs/NAME.yaml</c>): in the working directory or one of its parents, then next to
/// the executable or one of its parents (a build output inside the repository finds the repository's configs/).
/// </summary>
public static class PresetLocator
{
    private static readonly string[] Extensions = [".yaml", ".yml", ".json"];

    /// <summary>The configs/ directories searched, nearest first.</summary>
    public static IReadOnlyList<string> SearchDirectories(string workingDirectory)
    {
        var found = new List<string>();
        foreach (var start in new[] { workingDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "configs");
                if (Directory.Exists(candidate) && !found.Contains(candidate)) found.Add(candidate);
            }
        }
        return found;
    }

    /// <summary>Names of the presets found (file names without extension).</summary>
    public static IReadOnlyList<string> Available(string workingDirectory) =>
        SearchDirectories(workingDirectory)
            .SelectMany(d => Directory.EnumerateFiles(d))
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Select(Path.GetFileNameWithoutExtension)
            .OfType<string>()
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The file of preset <paramref name="name"/>, or null when no configs/ directory has it.</summary>
    public static string? TryFind(string name, string workingDirectory)
    {
        var spellings = new[] { name, name.Replace('_', '-') }.Distinct().ToList();
        foreach (var dir in SearchDirectories(workingDirectory))
        {
            foreach (var spelling in spellings)
            {
                foreach (var ext in Extensions)
                {
                    var path = Path.Combine(dir, spelling + ext);
                    if (File.Exists(path)) return path;
                }
            }
        }
        return null;
    }

    /// <summary>The file of preset <paramref name="name"/>; the reference spelling xl_pod8 finds xl-pod8.yaml.</summary>
    public static string Find(string name, string workingDirectory)
    {
        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name.Contains(".."))
            throw new ArgumentException($"preset '{name}' is not a preset name; use --config for a file path");
        if (TryFind(name, workingDirectory) is { } found) return found;
        var directories = SearchDirectories(workingDirectory);
        if (directories.Count == 0)
            throw new FileNotFoundException(
                $"preset '{name}': no configs/ directory above '{workingDirectory}' or '{AppContext.BaseDirectory}'; use --config FILE");
        throw new FileNotFoundException(
            $"unknown preset '{name}'; available: {string.Join(", ", Available(workingDirectory))} (in {string.Join(", ", directories)})");
    }
}
