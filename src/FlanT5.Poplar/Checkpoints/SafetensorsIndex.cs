using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// model.safetensors.index.json of a sharded checkpoint: which file holds each tensor. Loading checks the JSON
/// and that every named file is a plain file name that exists next to the index.
/// </summary>
public sealed class SafetensorsIndex
{
    public const string FileName = "model.safetensors.index.json";

    public string Path { get; }
    /// <summary>Tensor name → shard file name (relative to the index's folder), in file order.</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }
    /// <summary>metadata.total_size when present.</summary>
    public long? TotalSize { get; }

    public SafetensorsIndex(string path, IReadOnlyDictionary<string, string> weightMap, long? totalSize)
    {
        Path = path;
        WeightMap = weightMap;
        TotalSize = totalSize;
    }

    public string Directory => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;

    public IEnumerable<string> Files => WeightMap.Values.Distinct(StringComparer.Ordinal);

    public static SafetensorsIndex Load(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        if (root is not JsonObject obj || obj["weight_map"] is not JsonObject map)
            throw new InvalidDataException($"{path}: expected an object with a 'weight_map' object");
        long? totalSize = null;
        if (obj["metadata"] is JsonObject metadata && metadata["total_size"] is JsonValue total)
        {
            if (total.GetValueKind() != JsonValueKind.Number || !long.TryParse(total.ToJsonString(), out var t) || t < 0)
                throw new InvalidDataException($"{path}: metadata.total_size must be a non-negative integer, found {total.ToJsonString()}");
            totalSize = t;
        }
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        foreach (var (name, value) in map)
        {
            if (value is not JsonValue v || !v.TryGetValue<string>(out var file) || file.Length == 0)
                throw new InvalidDataException($"{path}: weight_map entry '{name}' must name a file");
            if (file != System.IO.Path.GetFileName(file) || file is "." or "..")
                throw new InvalidDataException($"{path}: weight_map entry '{name}' names '{file}'; expected a file name in the index's folder");
            if (!File.Exists(System.IO.Path.Combine(folder, file)))
                throw new InvalidDataException($"{path}: weight_map entry '{name}' names '{file}', which does not exist in {folder}");
            weightMap[name] = file;
        }
        return new SafetensorsIndex(path, weightMap, totalSize);
    }

    /// <summary>Writes an index as Hugging Face does (keys sorted, total_size = bytes of tensor data).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        var map = new JsonObject();
        foreach (var name in weightMap.Keys.Order(StringComparer.Ordinal)) map[name] = weightMap[name];
        var root = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = totalSize },
            ["weight_map"] = map,
        };
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
