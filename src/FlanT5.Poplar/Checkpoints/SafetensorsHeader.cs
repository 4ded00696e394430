using System.Buffers.Binary;
using System.Text.Json;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// A parsed and validated safetensors header. Nothing in it is trusted before it is checked: the header length
/// fits the file, the JSON is an object of well-formed entries, every dtype is known, shape × element size equals
/// the byte range, ranges lie inside the data section and do not overlap. Failures are
/// <see cref="InvalidDataException"/>s naming the file and the tensor.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>The safetensors specification caps the header at 100 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Absolute file offset where the data section begins (8 + header length).</summary>
    public long DataOffset { get; }

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    private SafetensorsHeader(List<SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata, long dataOffset)
    {
        Tensors = tensors;
        Metadata = metadata;
        DataOffset = dataOffset;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public bool TryGet(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>Validates the 8-byte little-endian header length against the file length; returns it.</summary>
    public static long ReadHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string source)
    {
        if (fileLength < 8 || prefix.Length < 8)
            throw new InvalidDataException($"{source}: truncated safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n < 2)
            throw new InvalidDataException($"{source}: header length {n} is too small to hold a JSON object");
        if (n > MaxHeaderBytes)
            throw new InvalidDataException($"{source}: header length {n} exceeds the {MaxHeaderBytes}-byte limit of the format");
        if ((long)n > fileLength - 8)
            throw new InvalidDataException($"{source}: header length {n} runs past the end of the file ({fileLength} bytes)");
        return (long)n;
    }

    /// <summary>Parses the JSON header (<paramref name="json"/>) of a file of <paramref name="fileLength"/> bytes.</summary>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> json, long fileLength, string source)
    {
        long dataOffset = 8 + json.Length;
        long dataLength = fileLength - dataOffset;
        if (dataLength < 0)
            throw new InvalidDataException($"{source}: header runs past the end of the file ({fileLength} bytes)");

        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new InvalidDataException($"{source}: header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: header is not valid JSON: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: header is not valid UTF-8 JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: header must be a JSON object, found {root.ValueKind}");

            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                var name = property.Name;
                if (!seen.Add(name))
                    throw new InvalidDataException($"{source}: header names '{name}' twice");
                if (name == "__metadata__")
                {
                    ParseMetadata(property.Value, metadata, source);
                    continue;
                }
                tensors.Add(ParseEntry(name, property.Value, dataLength, source));
            }

            tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            for (int i = 1; i < tensors.Count; i++)
            {
                var previous = tensors[i - 1];
                var current = tensors[i];
                // Empty tensors occupy no bytes and cannot overlap anything.
                if (current.ByteLength > 0 && previous.ByteLength > 0 && current.Begin < previous.End)
                    throw new InvalidDataException(
                        $"{source}: tensor '{current.Name}' bytes [{current.Begin}, {current.End}) overlap tensor '{previous.Name}' bytes [{previous.Begin}, {previous.End})");
            }
            return new SafetensorsHeader(tensors, metadata, dataOffset);
        }
    }

    private static void ParseMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: '__metadata__' must be an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{source}: '__metadata__' entry '{item.Name}' must be a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string name, JsonElement entry, long dataLength, string source)
    {
        string where = $"{source}: tensor '{name}'";
        if (entry.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: entry must be an object with dtype, shape and data_offsets");
        if (!entry.TryGetProperty("dtype", out var dtypeNode) || dtypeNode.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing string 'dtype'");
        var dtypeText = dtypeNode.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
            throw new InvalidDataException($"{where}: unknown dtype '{dtypeText}'");

        if (!entry.TryGetProperty("shape", out var shapeNode) || shapeNode.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing array 'shape'");
        var shape = new int[shapeNode.GetArrayLength()];
        int k = 0;
        foreach (var dim in shapeNode.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out var d) || d < 0)
                throw new InvalidDataException($"{where}: shape entry {dim.GetRawText()} is not a dimension in [0, {int.MaxValue}]");
            shape[k++] = d;
        }

        if (!entry.TryGetProperty("data_offsets", out var offsetsNode) || offsetsNode.ValueKind != JsonValueKind.Array
            || offsetsNode.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: 'data_offsets' must be an array [begin, end]");
        var begin = offsetsNode[0];
        var end = offsetsNode[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out var b) || b < 0
            || end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out var e) || e < 0)
            throw new InvalidDataException($"{where}: 'data_offsets' must hold two non-negative integers");
        if (b > e)
            throw new InvalidDataException($"{where}: data_offsets [{b}, {e}] end before they begin");
        if (e > dataLength)
            throw new InvalidDataException(
                $"{where}: data_offsets [{b}, {e}] run past the end of the data section ({dataLength} bytes; the file is truncated or the header is wrong)");

        long expected;
        try
        {
            expected = checked(ShapeMath.ElementCount(shape) * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{where}: shape {ShapeMath.Format(shape)} is too large");
        }
        if (expected != e - b)
            throw new InvalidDataException(
                $"{where}: shape {ShapeMath.Format(shape)} × {dtype.ElementSize()} bytes ({dtype.HeaderName()}) = {expected} bytes, but data_offsets [{b}, {e}] hold {e - b}");
        return new SafetensorsTensorInfo(name, dtype, shape, b, e);
    }
}
