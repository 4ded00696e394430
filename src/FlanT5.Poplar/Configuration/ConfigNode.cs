namespace FlanT5.Poplar.Configuration;

/// <summary>Where a config value came from: a file and line, a <c>--set</c> argument, or the built-in defaults.</summary>
public readonly record struct ConfigLocation(string Source, int Line = 0)
{
    public static ConfigLocation Default => new("built-in default");

    public override string ToString() => Line > 0 ? $"{Source}:{Line}" : Source;
}

/// <summary>
/// A parsed config document, independent of YAML or JSON, with the location of every node so errors can name
/// the file and line. Scalars keep their text; the schema converts them to the target type.
/// </summary>
public abstract record ConfigNode(ConfigLocation Location);

/// <summary>How a scalar was written: plain (YAML plain, JSON number/bool) or quoted (a string for sure).</summary>
public enum ScalarStyle { Plain, Quoted }

/// <summary>A leaf; <see cref="Text"/> is null for null/~/empty.</summary>
public sealed record ConfigScalar(string? Text, ScalarStyle Style, ConfigLocation Location) : ConfigNode(Location)
{
    public bool IsNull => Text is null;

    /// <summary>How the value appears in messages.</summary>
    public string Display => Text is null ? "null" : Style == ScalarStyle.Quoted ? $"\"{Text}\"" : $"'{Text}'";
}

public sealed record ConfigEntry(string Key, ConfigNode Value, ConfigLocation KeyLocation);

/// <summary>A mapping with its keys in document order.</summary>
public sealed record ConfigMap(IReadOnlyList<ConfigEntry> Entries, ConfigLocation Location) : ConfigNode(Location);

/// <summary>A list; no run setting is a list, so the schema reports it as an error.</summary>
public sealed record ConfigSequence(IReadOnlyList<ConfigNode> Items, ConfigLocation Location) : ConfigNode(Location);
