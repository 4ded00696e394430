namespace FlanT5.Poplar.Configuration;

/// <summary>A dotted command-line override, <c>--set training.steps=100</c>.</summary>
public sealed record ConfigOverride(string Key, ConfigScalar Value)
{
    /// <summary>Parses <c>key=value</c>; the value is read like a YAML scalar (null, numbers, true/false, "quoted").</summary>
    public static ConfigOverride Parse(string argument)
    {
        var equals = argument.IndexOf('=');
        if (equals <= 0)
            throw new ArgumentException($"--set '{argument}': expected section.key=value, e.g. training.steps=100");
        var key = argument[..equals].Trim();
        if (key.Split('.').Any(part => part.Length == 0))
            throw new ArgumentException($"--set '{argument}': '{key}' is not a dotted key such as training.steps");
        var text = argument[(equals + 1)..].Trim();
        var location = new ConfigLocation($"--set {argument}");
        ConfigScalar value = text switch
        {
            "" or "null" or "~" => new ConfigScalar(null, ScalarStyle.Plain, location),
            _ when text.Length >= 2 && (text[0] == '"' || text[0] == '\'') && text[^1] == text[0] =>
                new ConfigScalar(text[1..^1], ScalarStyle.Quoted, location),
            _ => new ConfigScalar(text, ScalarStyle.Plain, location),
        };
        return new ConfigOverride(key, value);
    }

    /// <summary>The override as a tree (<c>{training: {steps: 100}}</c>) so the schema binds it like a file.</summary>
    public ConfigMap ToTree()
    {
        ConfigNode node = Value;
        var parts = Key.Split('.');
        for (var i = parts.Length - 1; i > 0; i--)
            node = new ConfigMap([new ConfigEntry(parts[i], node, Value.Location)], Value.Location);
        return new ConfigMap([new ConfigEntry(parts[0], node, Value.Location)], Value.Location);
    }
}
