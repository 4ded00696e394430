using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FlanT5.Poplar.Configuration;

/// <summary>Reads a YAML or JSON config file into a <see cref="ConfigNode"/> tree that remembers lines.</summary>
public static class ConfigDocumentReader
{
    /// <summary>Reads <paramref name="path"/>; .json is JSON, .yaml/.yml is YAML.</summary>
    public static ConfigMap ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"config file '{path}' does not exist", path);
        var text = File.ReadAllText(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".json" => ReadJson(text, path),
            ".yaml" or ".yml" => ReadYaml(text, path),
            _ => throw new InvalidDataException($"{path}: unknown config file type '{ext}'; expected .yaml, .yml or .json"),
        };
    }

    public static ConfigMap ReadYaml(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{source}:{e.Start.Line}: not valid YAML: {InnerMessage(e)}", e);
        }
        if (stream.Documents.Count == 0)
            return new ConfigMap([], new ConfigLocation(source, 1));
        if (stream.Documents.Count > 1)
            throw new InvalidDataException($"{source}: expected one YAML document, found {stream.Documents.Count}");
        var root = FromYaml(stream.Documents[0].RootNode, source);
        return root switch
        {
            ConfigMap map => map,
            ConfigScalar { IsNull: true } => new ConfigMap([], root.Location),
            _ => throw new InvalidDataException($"{root.Location}: the top level must be a mapping of sections (model:, training:, ...)"),
        };
    }

    private static string InnerMessage(Exception e) => e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})";

    private static ConfigNode FromYaml(YamlNode node, string source)
    {
        var location = new ConfigLocation(source, (int)node.Start.Line);
        switch (node)
        {
            case YamlScalarNode scalar:
            {
                var quoted = scalar.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted
                    or YamlDotNet.Core.ScalarStyle.Literal or YamlDotNet.Core.ScalarStyle.Folded;
                var value = scalar.Value;
                if (!quoted && (value is null or "" or "~" or "null" or "Null" or "NULL"))
                    return new ConfigScalar(null, ScalarStyle.Plain, location);
                return new ConfigScalar(value ?? "", quoted ? ScalarStyle.Quoted : ScalarStyle.Plain, location);
            }
            case YamlMappingNode mapping:
            {
                var entries = new List<ConfigEntry>();
                foreach (var (key, value) in mapping.Children)
                {
                    var keyLocation = new ConfigLocation(source, (int)key.Start.Line);
                    if (key is not YamlScalarNode { Value: { } keyText })
                        throw new InvalidDataException($"{keyLocation}: keys must be plain words");
                    entries.Add(new ConfigEntry(keyText, FromYaml(value, source), keyLocation));
                }
                return new ConfigMap(entries, location);
            }
            case YamlSequenceNode sequence:
                return new ConfigSequence(sequence.Children.Select(c => FromYaml(c, source)).ToList(), location);
            default:
                throw new InvalidDataException($"{location}: unsupported YAML node {node.NodeType}");
        }
    }

    public static ConfigMap ReadJson(string text, string source)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var lineStarts = LineStarts(bytes);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        });
        try
        {
            if (!reader.Read())
                return new ConfigMap([], new ConfigLocation(source, 1));
            var root = FromJson(ref reader, source, lineStarts);
            if (reader.Read())
                throw new InvalidDataException($"{source}:{LineOf(lineStarts, reader.TokenStartIndex)}: unexpected content after the top-level object");
            return root as ConfigMap
                ?? throw new InvalidDataException($"{root.Location}: the top level must be an object of sections (\"model\", \"training\", ...)");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e);
        }
    }

    private static ConfigNode FromJson(ref Utf8JsonReader reader, string source, List<long> lineStarts)
    {
        var location = new ConfigLocation(source, LineOf(lineStarts, reader.TokenStartIndex));
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var entries = new List<ConfigEntry>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var keyLocation = new ConfigLocation(source, LineOf(lineStarts, reader.TokenStartIndex));
                    var key = reader.GetString()!;
                    if (!seen.Add(key))
                        throw new InvalidDataException($"{keyLocation}: duplicate key '{key}'");
                    reader.Read();
                    entries.Add(new ConfigEntry(key, FromJson(ref reader, source, lineStarts), keyLocation));
                }
                return new ConfigMap(entries, location);
            }
            case JsonTokenType.StartArray:
            {
                var items = new List<ConfigNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(FromJson(ref reader, source, lineStarts));
                return new ConfigSequence(items, location);
            }
            case JsonTokenType.String:
                return new ConfigScalar(reader.GetString(), ScalarStyle.Quoted, location);
            case JsonTokenType.Number:
                return new ConfigScalar(Encoding.UTF8.GetString(reader.ValueSpan), ScalarStyle.Plain, location);
            case JsonTokenType.True:
                return new ConfigScalar("true", ScalarStyle.Plain, location);
            case JsonTokenType.False:
                return new ConfigScalar("false", ScalarStyle.Plain, location);
            case JsonTokenType.Null:
                return new ConfigScalar(null, ScalarStyle.Plain, location);
            default:
                throw new InvalidDataException($"{location}: unexpected JSON token {reader.TokenType}");
        }
    }

    private static List<long> LineStarts(byte[] bytes)
    {
        var starts = new List<long> { 0 };
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n') starts.Add(i + 1);
        }
        return starts;
    }

    private static int LineOf(List<long> lineStarts, long offset)
    {
        var index = lineStarts.BinarySearch(offset);
        return (index >= 0 ? index : ~index - 1) + 1;
    }
}
