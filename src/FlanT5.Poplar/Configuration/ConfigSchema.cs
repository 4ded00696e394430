using System.Globalization;
using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Configuration;

/// <summary>State of one bind pass: where relative paths are anchored, and where each bound key came from.</summary>
public sealed class ConfigBindContext(string? baseDirectory, IDictionary<string, ConfigLocation> origins)
{
    /// <summary>Relative paths of what a run reads are resolved against this directory (null: left as written).</summary>
    public string? BaseDirectory { get; } = baseDirectory;

    /// <summary>
    /// Relative paths of what a run writes are resolved against this directory: the working directory even in a
    /// file, so a preset installed with the tool writes where it is run, not into the tool's folder. Default: <see cref="BaseDirectory"/>.
    /// </summary>
    public string? OutputBaseDirectory { get; init; } = baseDirectory;

    /// <summary>Dotted key → the location that set it last.</summary>
    public IDictionary<string, ConfigLocation> Origins { get; } = origins;

    internal static InvalidDataException Error(ConfigLocation location, string key, string message) =>
        new($"{location}: {key}: {message}");
}

/// <summary>One key of a section: how to read it from a config node and how to write it back.</summary>
public abstract class ConfigField<T>(string name)
{
    public string Name { get; } = name;

    public abstract T Bind(T target, ConfigNode node, string key, ConfigBindContext context);

    public abstract JsonNode? Write(T source);
}

/// <summary>The keys of one section, in the order they are written.</summary>
public sealed class ConfigSchema<T>(params ConfigField<T>[] fields)
{
    public IReadOnlyList<ConfigField<T>> Fields { get; } = fields;

    /// <summary>Applies every key of <paramref name="node"/> to <paramref name="target"/>; unknown keys are errors.</summary>
    public T Bind(T target, ConfigNode node, string prefix, ConfigBindContext context)
    {
        if (node is not ConfigMap map)
        {
            if (node is ConfigScalar { IsNull: true }) return target; // "training:" with nothing under it
            throw ConfigBindContext.Error(node.Location, Display(prefix), "expected a mapping of keys");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in map.Entries)
        {
            var key = prefix.Length == 0 ? entry.Key : $"{prefix}.{entry.Key}";
            if (!seen.Add(entry.Key))
                throw ConfigBindContext.Error(entry.KeyLocation, key, "appears twice");
            var field = Fields.FirstOrDefault(f => f.Name == entry.Key)
                ?? throw ConfigBindContext.Error(entry.KeyLocation, key,
                    $"unknown key; {Display(prefix)} accepts {string.Join(", ", Fields.Select(f => f.Name))}");
            target = field.Bind(target, entry.Value, key, context);
        }
        return target;
    }

    public JsonObject Write(T source)
    {
        var obj = new JsonObject();
        foreach (var field in Fields) obj[field.Name] = field.Write(source);
        return obj;
    }

    private static string Display(string prefix) => prefix.Length == 0 ? "the top level" : prefix;
}

/// <summary>A nested section.</summary>
public sealed class SectionField<T, TSection>(
    string name, Func<T, TSection> get, Func<T, TSection, T> set, ConfigSchema<TSection> schema) : ConfigField<T>(name)
{
    public override T Bind(T target, ConfigNode node, string key, ConfigBindContext context) =>
        set(target, schema.Bind(get(target), node, key, context));

    public override JsonNode? Write(T source) => schema.Write(get(source));
}

/// <summary>A leaf value converted by a <see cref="ConfigValueKind{TValue}"/>.</summary>
public sealed class ValueField<T, TValue>(
    string name, Func<T, TValue> get, Func<T, TValue, T> set, ConfigValueKind<TValue> kind) : ConfigField<T>(name)
{
    public override T Bind(T target, ConfigNode node, string key, ConfigBindContext context)
    {
        if (node is not ConfigScalar scalar)
            throw ConfigBindContext.Error(node.Location, key, $"expected {kind.Expected}, found a {(node is ConfigMap ? "mapping" : "list")}");
        var value = kind.Parse(scalar, context)
            ?? throw ConfigBindContext.Error(scalar.Location, key, $"expected {kind.Expected}, found {scalar.Display}");
        context.Origins[key] = scalar.Location;
        return set(target, value.Value);
    }

    public override JsonNode? Write(T source) => kind.Write(get(source));
}

/// <summary>A parse result that distinguishes "parsed to null" from "could not parse".</summary>
public readonly record struct Parsed<TValue>(TValue Value);

/// <summary>Conversion between config scalars and one C# type.</summary>
public sealed class ConfigValueKind<TValue>(
    string expected, Func<ConfigScalar, ConfigBindContext, Parsed<TValue>?> parse, Func<TValue, JsonNode?> write)
{
    public string Expected { get; } = expected;

    public Parsed<TValue>? Parse(ConfigScalar scalar, ConfigBindContext context) => parse(scalar, context);

    public JsonNode? Write(TValue value) => write(value);
}

/// <summary>The value kinds run configs use.</summary>
public static class ConfigKinds
{
    public static ConfigValueKind<int> Int { get; } = new("an integer",
        (s, _) => s is { Style: ScalarStyle.Plain, Text: { } t }
                  && int.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? new Parsed<int>(v) : null,
        v => JsonValue.Create(v));

    public static ConfigValueKind<double> Number { get; } = new("a number",
        (s, _) => ParseNumber(s) is { } v ? new Parsed<double>(v) : null,
        v => JsonValue.Create(v));

    public static ConfigValueKind<double?> OptionalNumber { get; } = new("a number or null",
        (s, _) => s.IsNull ? new Parsed<double?>(null) : ParseNumber(s) is { } v ? new Parsed<double?>(v) : null,
        v => v is { } d ? JsonValue.Create(d) : null);

    public static ConfigValueKind<bool> Bool { get; } = new("true or false",
        (s, _) => s.Style == ScalarStyle.Plain && s.Text is { } t
            ? t.ToLowerInvariant() switch { "true" => new Parsed<bool>(true), "false" => new Parsed<bool>(false), _ => null }
            : null,
        v => JsonValue.Create(v));

    public static ConfigValueKind<string> Text { get; } = new("a string",
        (s, _) => s.Text is { } t ? new Parsed<string>(t) : null,
        v => JsonValue.Create(v));

    public static ConfigValueKind<string?> OptionalText { get; } = new("a string or null",
        (s, _) => new Parsed<string?>(s.Text),
        v => v is null ? null : JsonValue.Create(v));

    /// <summary>A file or directory path; relative paths are anchored at the bind context's base directory.</summary>
    public static ConfigValueKind<string> FilePath { get; } = new("a path",
        (s, c) => s.Text is { Length: > 0 } t ? new Parsed<string>(Anchor(t, c)) : null,
        v => JsonValue.Create(v));

    public static ConfigValueKind<string?> OptionalFilePath { get; } = new("a path or null",
        (s, c) => s.Text is { Length: > 0 } t ? new Parsed<string?>(Anchor(t, c)) : s.Text is null ? new Parsed<string?>(null) : null,
        v => v is null ? null : JsonValue.Create(v));

    /// <summary>A path the run writes; relative paths are anchored at the bind context's output base directory.</summary>
    public static ConfigValueKind<string> OutputPath { get; } = new("a path",
        (s, c) => s.Text is { Length: > 0 } t ? new Parsed<string>(Anchor(t, c.OutputBaseDirectory)) : null,
        v => JsonValue.Create(v));

    public static ConfigValueKind<string?> OptionalOutputPath { get; } = new("a path or null",
        (s, c) => s.Text is { Length: > 0 } t ? new Parsed<string?>(Anchor(t, c.OutputBaseDirectory)) : s.Text is null ? new Parsed<string?>(null) : null,
        v => v is null ? null : JsonValue.Create(v));

    /// <summary>An enum spelled by the given names (the first name of a value is the one written back).</summary>
    public static ConfigValueKind<TEnum> Enum<TEnum>(params (string Name, TEnum Value)[] names) where TEnum : struct, System.Enum =>
        new($"one of {string.Join(", ", names.Select(n => n.Name))}",
            (s, _) => s.Text is { } t && names.FirstOrDefault(n => n.Name == t) is { Name: not null } hit
                ? new Parsed<TEnum>(hit.Value) : null,
            v => JsonValue.Create(names.First(n => EqualityComparer<TEnum>.Default.Equals(n.Value, v)).Name));

    private static double? ParseNumber(ConfigScalar s) =>
        s is { Style: ScalarStyle.Plain, Text: { } t }
        && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v : null;

    private static string Anchor(string path, ConfigBindContext context) => Anchor(path, context.BaseDirectory);

    private static string Anchor(string path, string? baseDirectory)
    {
        if (path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        return baseDirectory is null || Path.IsPathRooted(path)
            ? path
            : Path.GetFullPath(Path.Combine(baseDirectory, path));
    }
}
