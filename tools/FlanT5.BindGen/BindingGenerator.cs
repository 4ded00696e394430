using System.Text;
using FlanT5.Clang;

namespace FlanT5.BindGen;

/// <summary>One output file: its name inside the output directory and its exact text.</summary>
internal sealed record GeneratedFile(string Name, string Content);

/// <summary>The generator as an API: the CLI and the drift test both go through here.</summary>
internal static class BindingGenerator
{
    public static IReadOnlyList<GeneratedFile> Generate(BindingOptions options)
    {
        var header = Path.GetFullPath(options.HeaderPath);
        var builtin = options.BuiltinIncludeDirectory ?? BuiltinIncludes.Find();
        string[] arguments =
        [
            "-x", "c", "-std=c11", "--target=" + options.Target,
            "-isystem", builtin,
            "-I", Path.GetDirectoryName(header)!,
        ];
        var model = HeaderParser.Parse(header, arguments);
        var display = options.DisplayPath ?? DisplayPath(header);
        return
        [
            new(options.ClassName + ".g.cs", BindingsWriter.Write(model, options, display)),
            new(options.LayoutClassName + ".g.cs", LayoutWriter.Write(model, options, display)),
        ];
    }

    public static void WriteTo(IReadOnlyList<GeneratedFile> files, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        foreach (var file in files)
        {
            var path = Path.Combine(outputDirectory, file.Name);
            var bytes = Encoding.UTF8.GetBytes(file.Content);
            if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) continue;
            File.WriteAllBytes(path, bytes);
        }
    }

    /// <summary>Differences between the generated files and those in the directory; empty when identical.</summary>
    public static IReadOnlyList<string> Compare(IReadOnlyList<GeneratedFile> files, string outputDirectory)
    {
        var differences = new List<string>();
        foreach (var file in files)
        {
            var path = Path.Combine(outputDirectory, file.Name);
            if (!File.Exists(path))
            {
                differences.Add($"{path}: missing (expected {file.Content.Length} characters)");
                continue;
            }
            var committed = File.ReadAllBytes(path);
            if (committed.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(file.Content))) continue;
            differences.Add($"{path}: {FirstDifference(Encoding.UTF8.GetString(committed), file.Content)}");
        }
        if (Directory.Exists(outputDirectory))
        {
            var expected = files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var stale in Directory.EnumerateFiles(outputDirectory, "*.g.cs").Order(StringComparer.Ordinal))
            {
                if (!expected.Contains(Path.GetFileName(stale))) differences.Add($"{stale}: not produced by the generator");
            }
        }
        return differences;
    }

    // The changed region between the common first and last lines, with a few of its lines from each side.
    private static string FirstDifference(string committed, string generated)
    {
        var a = committed.Split('\n');
        var b = generated.Split('\n');
        var prefix = 0;
        while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix]) prefix++;
        var suffix = 0;
        while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[^(suffix + 1)] == b[^(suffix + 1)]) suffix++;
        if (prefix == a.Length && prefix == b.Length) return "differs only in encoding";
        var removed = a[prefix..(a.Length - suffix)];
        var added = b[prefix..(b.Length - suffix)];
        var summary = new StringBuilder($"from line {prefix + 1}: {removed.Length} committed line(s) would become {added.Length} generated line(s)");
        foreach (var line in removed.Take(6)) summary.Append("\n    - ").Append(line.Trim());
        if (removed.Length > 6) summary.Append("\n    - ...");
        foreach (var line in added.Take(6)) summary.Append("\n    + ").Append(line.Trim());
        if (added.Length > 6) summary.Append("\n    + ...");
        return summary.ToString();
    }

    // The path shown in the banner: relative to the repository (the directory with the .sln), so the output
    // does not depend on where the repository is checked out.
    private static string DisplayPath(string header)
    {
        for (var dir = Path.GetDirectoryName(header); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (Directory.EnumerateFiles(dir, "*.sln").Any())
            {
                return Path.GetRelativePath(dir, header).Replace('\\', '/');
            }
        }
        return Path.GetFileName(header);
    }
}
