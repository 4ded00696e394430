namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// Reads one safetensors file: the header is validated on open (<see cref="SafetensorsHeader"/>), the data is
/// memory-mapped and read one tensor at a time, window by window, converted to fp32 on the way.
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    /// <summary>Bytes mapped per window when streaming a tensor (a multiple of every element size).</summary>
    private const int WindowBytes = 64 << 20;

    private readonly SafetensorsStorage _storage;

    public string Path { get; }
    public SafetensorsHeader Header { get; }
    public IReadOnlyList<SafetensorsTensorInfo> Tensors => Header.Tensors;

    private SafetensorsReader(string path, SafetensorsStorage storage)
    {
        Path = path;
        _storage = storage;
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            if (storage.Length >= 8) storage.Read(0, prefix);
            long headerLength = SafetensorsHeader.ReadHeaderLength(prefix, storage.Length, path);
            var json = new byte[headerLength];
            storage.Read(8, json);
            Header = SafetensorsHeader.Parse(json, storage.Length, path);
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>Opens and validates <paramref name="path"/>; the data stays on disk, mapped on demand.</summary>
    public static SafetensorsReader Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        return new SafetensorsReader(path, new MappedSafetensorsStorage(path));
    }

    /// <summary>Reads a file already in memory; <paramref name="name"/> labels it in errors.</summary>
    public static SafetensorsReader FromBytes(byte[] bytes, string name) =>
        new(name, new MemorySafetensorsStorage(bytes));

    public bool Contains(string name) => Header.TryGet(name, out _);

    public bool TryGet(string name, out SafetensorsTensorInfo info) => Header.TryGet(name, out info);

    public SafetensorsTensorInfo Get(string name) =>
        Header.TryGet(name, out var info) ? info : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <summary>Reads tensor <paramref name="name"/> (F32, F16, BF16 or F64) into fp32.</summary>
    public float[] ReadFloat32(string name)
    {
        var info = Get(name);
        var data = new float[checked((int)info.ElementCount)];
        ReadFloat32(info, data);
        return data;
    }

    /// <summary>Reads a tensor into <paramref name="destination"/>, which must hold exactly its elements.</summary>
    public void ReadFloat32(SafetensorsTensorInfo info, Span<float> destination)
    {
        if (!info.DType.IsFloatingConvertible())
            throw new InvalidDataException($"{Path}: tensor '{info.Name}' has dtype {info.DType.HeaderName()}; expected F32, F16 or BF16");
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"{Path}: tensor '{info.Name}' has {info.ElementCount} elements, destination holds {destination.Length}");
        int elementSize = info.DType.ElementSize();
        int elementsPerWindow = WindowBytes / elementSize;
        long done = 0;
        while (done < info.ElementCount)
        {
            int count = (int)Math.Min(elementsPerWindow, info.ElementCount - done);
            _storage.ReadFloat32(Header.DataOffset + info.Begin + done * elementSize, info.DType,
                destination.Slice((int)done, count));
            done += count;
        }
    }

    /// <summary>Asks the OS to start reading a tensor's bytes, so a later read finds them cached (streaming).</summary>
    public void Prefetch(SafetensorsTensorInfo info) => _storage.Prefetch(Header.DataOffset + info.Begin, info.ByteLength);

    /// <summary>Copies the stored bytes of a tensor (any dtype) into <paramref name="destination"/>.</summary>
    public void ReadBytes(SafetensorsTensorInfo info, Span<byte> destination)
    {
        if (destination.Length != info.ByteLength)
            throw new ArgumentException($"{Path}: tensor '{info.Name}' has {info.ByteLength} bytes, destination holds {destination.Length}");
        _storage.Read(Header.DataOffset + info.Begin, destination);
    }

    /// <summary>Copies stored bytes [offset, offset + destination.Length) of a tensor.</summary>
    public void ReadBytes(SafetensorsTensorInfo info, long offset, Span<byte> destination)
    {
        if (offset < 0 || offset + destination.Length > info.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{Path}: bytes [{offset}, {offset + destination.Length}) are outside tensor '{info.Name}' ({info.ByteLength} bytes)");
        _storage.Read(Header.DataOffset + info.Begin + offset, destination);
    }

    /// <summary>Whether two tensors of this file have the same dtype, shape and bytes (compared window by window).</summary>
    public bool BytesEqual(SafetensorsTensorInfo a, SafetensorsReader otherFile, SafetensorsTensorInfo b)
    {
        if (a.DType != b.DType || !ShapeMath.SameShape(a.Shape, b.Shape)) return false;
        var left = new byte[(int)Math.Min(WindowBytes / 4, Math.Max(a.ByteLength, 1))];
        var right = new byte[left.Length];
        for (long done = 0; done < a.ByteLength; done += left.Length)
        {
            int count = (int)Math.Min(left.Length, a.ByteLength - done);
            _storage.Read(Header.DataOffset + a.Begin + done, left.AsSpan(0, count));
            otherFile._storage.Read(otherFile.Header.DataOffset + b.Begin + done, right.AsSpan(0, count));
            if (!left.AsSpan(0, count).SequenceEqual(right.AsSpan(0, count))) return false;
        }
        return true;
    }

    public void Dispose() => _storage.Dispose();
}
