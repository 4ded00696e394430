using System.Diagnostics;
using System.Text;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Tests.Configuration;

/// <summary>
/// A generator-and-mutator fuzzer of YAML run configs: starting from the presets and from hostile shapes (recursive and
/// exponential aliases, deep nesting, unclosed brackets, tabs, control characters, multiple documents, tags), each
/// case is mutated at random and read the way a run reads its --config (parse, bind to the schema, validate). A case
/// passes when it loads or is refused with a user error that names the file; anything else is a crash. Each case is
/// also held to bounds of allocation and time, so a file cannot make the reader run away.
/// </summary>
internal sealed class YamlConfigFuzzer(IReadOnlyList<string> seeds, int rngSeed)
{
    public const string SourceName = "fuzz.yaml";

    /// <summary>Most bytes one case may allocate (the presets allocate well under 1 MB).</summary>
    public const long MaxAllocatedBytes = 64L << 20;

    /// <summary>Longest one case may take (they take well under a millisecond).</summary>
    public static readonly TimeSpan MaxCaseTime = TimeSpan.FromSeconds(10);

    private static readonly string[] Tokens =
    [
        "&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ": ", ":", "- ", "? ", ", ", "!!str ", "!!map ", "!custom ", "|\n", ">\n", "\"", "'",
        "\t", "\n", "\n  ", "\r\n", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "# c\n", "\0", "\u00e9", "\ud83d\ude00", "\ufeff",
        "~", "null", "true", "1e309", "-1", "2147483648", ".nan", "<<: *a\n", "training:", "steps:", "model:", "  ", "\\", "@", "`",
    ];

    private readonly Random _random = new(rngSeed);

    public sealed record Outcome(int Cases, int Loaded, int Refused, IReadOnlyList<string> Crashes, long MaxCaseAllocatedBytes, TimeSpan MaxCaseTime)
    {
        public override string ToString() =>
            $"{Cases} cases: {Loaded} loaded, {Refused} refused with a user error, {Crashes.Count} crashes; " +
            $"largest case allocated {MaxCaseAllocatedBytes / 1024.0:F0} KiB, slowest took {MaxCaseTime.TotalMilliseconds:F1} ms";
    }

    public Outcome Run(int cases)
    {
        int loaded = 0, refused = 0;
        long maxAllocated = 0;
        var slowest = TimeSpan.Zero;
        var crashes = new List<string>();
        for (int i = 0; i < cases; i++)
        {
            var text = Case();
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            string? crash = Load(text, out bool ok);
            clock.Stop();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            maxAllocated = Math.Max(maxAllocated, allocated);
            if (clock.Elapsed > slowest) slowest = clock.Elapsed;
            if (crash is null && allocated > MaxAllocatedBytes) crash = $"allocated {allocated:N0} bytes";
            if (crash is null && clock.Elapsed > MaxCaseTime) crash = $"took {clock.Elapsed.TotalSeconds:F1} s";
            if (crash is not null) crashes.Add($"case {i}: {crash}\n--- input ({text.Length} chars) ---\n{Shorten(text)}");
            else if (ok) loaded++;
            else refused++;
        }
        return new Outcome(cases, loaded, refused, crashes, maxAllocated, slowest);
    }

    /// <summary>Null when the case loaded or was refused properly (<paramref name="ok"/> says which); else what went wrong.</summary>
    private static string? Load(string text, out bool ok)
    {
        ok = false;
        try
        {
            var tree = ConfigDocumentReader.ReadYaml(text, SourceName);
            var origins = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
            var config = RunConfigSchema.Root.Bind(RunConfig.Default, tree, "", new ConfigBindContext("/fuzz", origins));
            RunConfigLoader.ThrowIfInvalid(new LoadedRunConfig(config, origins, SourceName));
            ok = true;
            return null;
        }
        catch (InvalidDataException e)
        {
            if (e.Message.Contains("not valid YAML", StringComparison.Ordinal)
                && !System.Text.RegularExpressions.Regex.IsMatch(e.Message, $@"^{SourceName}:\d+:\d+: "))
                return $"a parse error without file, line and column: {e.Message}";
            return e.Message.Contains(SourceName, StringComparison.Ordinal) || e.Message.Contains("built-in default", StringComparison.Ordinal)
                ? null : $"an error that does not name the file: {e.Message}";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}\n{e.StackTrace}";
        }
    }

    private string Case()
    {
        string text = _random.Next(4) switch
        {
            0 => Generated(),
            _ => seeds[_random.Next(seeds.Count)],
        };
        int mutations = _random.Next(1, 6);
        for (int m = 0; m < mutations; m++) text = Mutate(text);
        return text;
    }

    /// <summary>Hostile shapes a mutation rarely reaches by chance.</summary>
    private string Generated()
    {
        int n = _random.Next(1, 12);
        switch (_random.Next(6))
        {
            case 0: // exponential aliases
            {
                var sb = new StringBuilder("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
                for (int i = 1; i <= n; i++) sb.Append($"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]\n");
                return sb.ToString();
            }
            case 1: // recursive alias
                return _random.Next(2) == 0 ? "a: &a [*a]\n" : "training: &t\n  steps: *t\n";
            case 2: // deep flow nesting
            {
                int depth = _random.Next(10, 5000);
                return "model: " + new string('[', depth) + new string(']', _random.Next(depth + 1)) + "\n";
            }
            case 3: // deep block nesting
            {
                var sb = new StringBuilder();
                int depth = _random.Next(10, 300);
                for (int i = 0; i < depth; i++) sb.Append(' ', i * 2).Append($"k{i}:\n");
                return sb.ToString();
            }
            case 4: // many keys
            {
                var sb = new StringBuilder("training:\n");
                for (int i = 0; i < n * 200; i++) sb.Append($"  k{i}: {i}\n");
                return sb.ToString();
            }
            default: // an anchored section reused
                return "training: &t\n  steps: 5\nmodel: *t\nexecution: *t\n";
        }
    }

    private string Mutate(string text)
    {
        int at = text.Length == 0 ? 0 : _random.Next(text.Length + 1);
        switch (_random.Next(7))
        {
            case 0: // insert a token
                return text.Insert(at, Tokens[_random.Next(Tokens.Length)]);
            case 1: // delete a range
            {
                int length = Math.Min(text.Length - at, _random.Next(1, 40));
                return length <= 0 ? text : text.Remove(at, length);
            }
            case 2: // replace a character
                return at >= text.Length ? text : text.Remove(at, 1).Insert(at, ((char)_random.Next(0, 0x250)).ToString());
            case 3: // truncate
                return text[..at];
            case 4: // duplicate a slice
            {
                int length = Math.Min(text.Length - at, _random.Next(1, 200));
                return length <= 0 ? text : text.Insert(_random.Next(text.Length + 1), text.Substring(at, length));
            }
            case 5: // re-indent a line
            {
                int line = text.LastIndexOf('\n', Math.Max(0, at - 1));
                return text.Insert(line + 1, new string(' ', _random.Next(1, 5)));
            }
            default: // an anchor and an alias somewhere
            {
                var withAnchor = text.Insert(at, "&z ");
                return withAnchor.Insert(_random.Next(withAnchor.Length + 1), " *z");
            }
        }
    }

    private static string Shorten(string text) => text.Length <= 600 ? text : text[..600] + "…";
}
