namespace FlanT5.Clang;

/// <summary>
/// Finds a directory with the compiler builtin headers (stddef.h, stdint.h). libclang from NuGet ships without its
/// resource directory; without these headers size_t is unknown and clang would carry on with int.
/// </summary>
public static class BuiltinIncludes
{
    private static readonly string[] Roots =
    [
        "/usr/lib/llvm-*/lib/clang/*/include",
        "/usr/lib/clang/*/include",
        "/usr/local/lib/clang/*/include",
        "/usr/lib/gcc/x86_64-linux-gnu/*/include",
        "/usr/lib/gcc/x86_64-pc-linux-gnu/*/include",
    ];

    public static string Find()
    {
        foreach (var pattern in Roots)
        {
            var candidates = Expand(pattern)
                .Where(dir => File.Exists(Path.Combine(dir, "stddef.h")) && File.Exists(Path.Combine(dir, "stdint.h")))
                .OrderByDescending(dir => dir, VersionAwareComparer.Instance)
                .ToList();
            if (candidates.Count > 0) return candidates[0];
        }
        throw new InvalidOperationException(
            "no compiler builtin headers (stddef.h and stdint.h) found; tried " + string.Join(", ", Roots) +
            ". Install clang or gcc, or pass --builtin-include <dir>.");
    }

    // Expands '*' in directory components (no recursion beyond the pattern).
    private static IEnumerable<string> Expand(string pattern)
    {
        IEnumerable<string> current = ["/"];
        foreach (var part in pattern.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = part.Contains('*')
                ? current.Where(Directory.Exists).SelectMany(dir => Directory.EnumerateDirectories(dir, part)).ToList()
                : current.Select(dir => Path.Combine(dir, part)).ToList();
        }
        return current.Where(Directory.Exists);
    }

    // "llvm-14/.../14.0.6" sorts above "llvm-9/.../9.0.1": compare digit runs as numbers.
    private sealed class VersionAwareComparer : IComparer<string>
    {
        public static readonly VersionAwareComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            var a = Split(x ?? "");
            var b = Split(y ?? "");
            for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
            {
                var c = long.TryParse(a[i], out var na) && long.TryParse(b[i], out var nb)
                    ? na.CompareTo(nb)
                    : string.CompareOrdinal(a[i], b[i]);
                if (c != 0) return c;
            }
            return a.Count.CompareTo(b.Count);
        }

        private static List<string> Split(string s)
        {
            var parts = new List<string>();
            var i = 0;
            while (i < s.Length)
            {
                var digit = char.IsAsciiDigit(s[i]);
                var start = i;
                while (i < s.Length && char.IsAsciiDigit(s[i]) == digit) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
    }
}
