using System.Text;
using System.Text.Json;

namespace FlanT5.Poplar.Configuration;

/// <summary>Reads a YAML or JSON config file into a <see cref="ConfigNode"/> tree that remembers lines.</summary>
public static class ConfigDocumentReader
{
    /// <summary>Largest config file read: bounds the memory a wrong or hostile path can make a run spend.</summary>
    public const long MaxFileBytes = 1 << 20;

    /// <summary>Reads <paramref name="path"/>; .json is JSON, .yaml/.yml is YAML.</summary>
    public static ConfigMap ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"config file '{path}' does not exist", path);
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw new InvalidDataException($"{path}: {length:N0} bytes; a run config is a few KB (at most {MaxFileBytes:N0} bytes are read)");
        var text = File.ReadAllText(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".json" => ReadJson(text, path),
            ".yaml" or ".yml" => ReadYaml(text, path),
            _ => throw new InvalidDataException($"{path}: unknown config file type '{ext}'; expected .yaml, .yml or .json"),
        };
    }

    /// <summary>Reads YAML text (<see cref="YamlConfigReader"/>: bounded depth and alias expansion).</summary>
    public static ConfigMap ReadYaml(string text, string source) => YamlConfigReader.Read(text, source);

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
            throw new InvalidDataException($"{source}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not valid JSON: {e.Message}", e);
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
