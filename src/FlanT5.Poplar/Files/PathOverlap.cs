using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Files;

/// <summary>
/// Whether writing a folder would destroy something being read: the output is an input under another name (a symbolic
/// link, a relative path, a bind mount: compared by canonical path and by device and inode) or a folder that holds one.
/// Checked before anything is written.
/// </summary>
public static class PathOverlap
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the input when <paramref name="output"/> is or holds one of
    /// <paramref name="inputs"/> (name: what the path is, e.g. "--model"), saying <paramref name="consequence"/>. Inputs that
    /// do not exist are ignored.</summary>
    public static void ThrowIfOutputHoldsInput(string output, string outputName, IEnumerable<(string? Path, string Name)> inputs,
        string consequence = "writing there would replace what is being read; choose another folder")
    {
        var outputReal = Canonical(output);
        var outputIdentity = FileSystemSync.Identity(output);
        foreach (var (path, name) in inputs)
        {
            if (path is null || FileSystemSync.RealPath(path) is not { } inputReal) continue;
            for (var folder = inputReal; folder is not null; folder = Path.GetDirectoryName(folder))
            {
                bool same = folder == outputReal || (outputIdentity is { } o && FileSystemSync.Identity(folder) == o);
                if (!same) continue;
                var how = folder == inputReal ? "is" : "holds";
                var alias = Path.GetFullPath(output) != outputReal || Path.GetFullPath(path) != inputReal ? " (through a link or another name)" : "";
                throw new ArgumentException($"{outputName} {output} {how} {name} {path}{alias}: {consequence}");
            }
        }
    }

    /// <summary>The canonical form of a path that may not exist yet: its deepest existing ancestor resolved, the rest appended.</summary>
    public static string Canonical(string path)
    {
        var full = Path.GetFullPath(path);
        var rest = new Stack<string>();
        for (var current = full; current is not null; current = Path.GetDirectoryName(current))
        {
            if (FileSystemSync.RealPath(current) is { } real)
            {
                foreach (var part in rest) real = Path.Combine(real, part);
                return real;
            }
            rest.Push(Path.GetFileName(current));
        }
        return full;
    }
}
