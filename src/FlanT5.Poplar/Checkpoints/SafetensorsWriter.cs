using System.Buffers.Binary;
using System.Text.Json;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A tensor a <see cref="SafetensorsWriter"/> will write: its name, stored dtype and shape.</summary>
public sealed record SafetensorsTensorSpec(string Name, SafetensorsDType DType, int[] Shape)
{
    public long ByteLength => ShapeMath.ElementCount(Shape) * DType.ElementSize();
}

/// <summary>
/// Writes one safetensors file, streaming: the header is written from the declared tensor list, then each tensor's
/// data in that order (converted from fp32 straight into the output buffer, or as stored bytes), through a
/// <see cref="SequentialFileWriter"/> (O_DIRECT where allowed). The header is padded with spaces so the data section
/// starts 8-byte aligned, as the reference writer does.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    /// <summary>Elements converted at a time: their bytes must fit the output's staging buffer.</summary>
    private const int ChunkElements = 1 << 19;

    private readonly SequentialFileWriter _stream;
    private readonly IReadOnlyList<SafetensorsTensorSpec> _specs;
    private int _next;
    private bool _completed;

    public string Path { get; }

    public SafetensorsWriter(string path, IReadOnlyList<SafetensorsTensorSpec> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        Path = path;
        _specs = tensors;
        var header = BuildHeader(tensors, metadata);
        _stream = new SequentialFileWriter(path);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        _stream.Write(prefix);
        _stream.Write(header);
    }

    /// <summary>Total file size the declared tensors produce.</summary>
    public static long FileSize(IReadOnlyList<SafetensorsTensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        8 + BuildHeader(tensors, metadata).Length + tensors.Sum(t => t.ByteLength);

    /// <summary>The name of the next tensor to write, or null when all were written.</summary>
    public string? NextTensor => _next < _specs.Count ? _specs[_next].Name : null;

    /// <summary>Writes the next declared tensor from fp32 values, narrowing to its dtype (round to nearest even).</summary>
    public void WriteTensor(string name, ReadOnlySpan<float> values)
    {
        var spec = Expect(name, values.Length);
        int size = spec.DType.ElementSize();
        for (int done = 0; done < values.Length; done += ChunkElements)
        {
            int count = Math.Min(ChunkElements, values.Length - done);
            DTypeConversion.FromFloat32(values.Slice(done, count), spec.DType, _stream.GetSpan(count * size)[..(count * size)]);
            _stream.Advance(count * size);
        }
        _next++;
    }

    /// <summary>Writes the next declared tensor from bytes already in its dtype.</summary>
    public void WriteTensorBytes(string name, ReadOnlySpan<byte> bytes)
    {
        var spec = _next < _specs.Count ? _specs[_next] : null;
        if (spec is null || spec.Name != name)
            throw new InvalidOperationException($"{Path}: expected tensor '{spec?.Name ?? "(none)"}' next, got '{name}'");
        if (bytes.Length != spec.ByteLength)
            throw new ArgumentException($"{Path}: tensor '{name}' takes {spec.ByteLength} bytes, got {bytes.Length}");
        _stream.Write(bytes);
        _next++;
    }

    /// <summary>Checks every tensor was written, flushes, and (by default) forces the file to disk.</summary>
    public void Complete(bool flushToDisk = true)
    {
        if (_next != _specs.Count)
            throw new InvalidOperationException($"{Path}: {_specs.Count - _next} declared tensors were not written (next: '{_specs[_next].Name}')");
        _stream.Complete(flushToDisk);
        _completed = true;
    }

    public void Dispose()
    {
        _stream.Dispose();
        // An incomplete file is not a valid checkpoint; do not leave it looking like one.
        if (!_completed) File.Delete(Path);
    }

    /// <summary>Writes a whole file from in-memory fp32 tensors (small files, tests).</summary>
    public static void WriteFile(string path, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors,
        SafetensorsDType dtype = SafetensorsDType.F32, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var writer = new SafetensorsWriter(path, list.Select(t => new SafetensorsTensorSpec(t.Name, dtype, t.Shape)).ToList(), metadata);
        foreach (var t in list) writer.WriteTensor(t.Name, t.Data);
        writer.Complete();
    }

    private SafetensorsTensorSpec Expect(string name, long elementCount)
    {
        var spec = _next < _specs.Count ? _specs[_next] : null;
        if (spec is null || spec.Name != name)
            throw new InvalidOperationException($"{Path}: expected tensor '{spec?.Name ?? "(none)"}' next, got '{name}'");
        long expected = ShapeMath.ElementCount(spec.Shape);
        if (elementCount != expected)
            throw new ArgumentException($"{Path}: tensor '{name}' {ShapeMath.Format(spec.Shape)} has {expected} elements, got {elementCount}");
        return spec;
    }

    private static byte[] BuildHeader(IReadOnlyList<SafetensorsTensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is declared twice");
                if (t.Name == "__metadata__") throw new ArgumentException("'__metadata__' is not a tensor name");
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.HeaderName());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += t.ByteLength;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int length = (int)buffer.Length;
        int padded = (length + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }
}
