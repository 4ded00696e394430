using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A tensor to stream: the name it is delivered under, the file holding it and its entry there.</summary>
public readonly record struct StreamedTensorSource(string Name, SafetensorsReader File, SafetensorsTensorInfo Info);

/// <summary>
/// Delivers the stored bytes of tensors one at a time, in the order given, read ahead by a
/// <see cref="FileRangeStream"/> (O_DIRECT where possible) — the fast path for converting a whole checkpoint, where
/// the memory-mapped <see cref="SafetensorsReader"/> suits random access. Neighbouring small tensors of one file are
/// read as one range (up to <see cref="GroupBytes"/>), so a layer norm costs no read of its own. <see cref="Bytes"/>
/// is a span over the read buffer: valid until the next <see cref="MoveNext"/>.
/// </summary>
public sealed class SafetensorsTensorStream : IDisposable
{
    /// <summary>Tensors of one file that lie next to each other are read together up to this many bytes.</summary>
    public const int GroupBytes = 64 << 20;

    private readonly IReadOnlyList<StreamedTensorSource> _tensors;
    private readonly List<(int First, int Count)> _groups = [];
    private readonly FileRangeStream _ranges;
    private int _group = -1;
    private int _tensor = -1;

    public SafetensorsTensorStream(IReadOnlyList<StreamedTensorSource> tensors, FileStreamingOptions? options = null)
    {
        _tensors = tensors;
        var ranges = new List<FileRange>();
        for (int i = 0; i < tensors.Count;)
        {
            int first = i;
            var start = Absolute(tensors[i]);
            long end = start + tensors[i].Info.ByteLength;
            // Grow the group while the next tensor of the same file starts where this one ends.
            for (i++; i < tensors.Count && tensors[i].File == tensors[first].File && Absolute(tensors[i]) == end
                && end + tensors[i].Info.ByteLength - start <= GroupBytes; i++)
            {
                end += tensors[i].Info.ByteLength;
            }
            if (end - start > int.MaxValue - 2 * 4096)
                throw new InvalidDataException($"{tensors[first].File.Path}: tensor '{tensors[first].Info.Name}' has {end - start} bytes; streaming reads at most 2 GB per tensor");
            _groups.Add((first, i - first));
            ranges.Add(new FileRange(tensors[first].File.Path, start, (int)(end - start)));
        }
        _ranges = new FileRangeStream(ranges, options);
    }

    /// <summary>Whether every file is read with O_DIRECT (false: through the page cache).</summary>
    public bool Direct => _ranges.AllDirect;

    /// <summary>Bytes allocated for read buffers.</summary>
    public long BufferBytes => _ranges.BufferBytes;

    /// <summary>The current tensor.</summary>
    public StreamedTensorSource Current => _tensor >= 0 && _tensor < _tensors.Count ? _tensors[_tensor] : throw new InvalidOperationException("no current tensor");

    /// <summary>The current tensor's stored bytes (its dtype, little-endian, as in the file).</summary>
    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            var t = Current;
            var range = _ranges.CurrentRange;
            return _ranges.Current.Slice((int)(Absolute(t) - range.Offset), (int)t.Info.ByteLength);
        }
    }

    /// <summary>The current tensor's stored elements as <typeparamref name="T"/> (e.g. ushort for bf16).</summary>
    public ReadOnlySpan<T> Elements<T>() where T : unmanaged => MemoryMarshal.Cast<byte, T>(Bytes);

    /// <summary>Converts the current tensor (F32, F16, BF16 or F64) to fp32.</summary>
    public void ReadFloat32(Span<float> destination)
    {
        var t = Current;
        if (!t.Info.DType.IsFloatingConvertible())
            throw new InvalidDataException($"{t.File.Path}: tensor '{t.Info.Name}' has dtype {t.Info.DType.HeaderName()}; expected F32, F16 or BF16");
        if (destination.Length != t.Info.ElementCount)
            throw new ArgumentException($"{t.File.Path}: tensor '{t.Info.Name}' has {t.Info.ElementCount} elements, destination holds {destination.Length}");
        DTypeConversion.ToFloat32(t.Info.DType, Bytes, destination);
    }

    /// <summary>Moves to the next tensor, waiting for its bytes; false after the last.</summary>
    public bool MoveNext()
    {
        if (_tensor + 1 >= _tensors.Count)
        {
            _tensor = _tensors.Count;
            return false;
        }
        _tensor++;
        if (_group < 0 || _tensor >= _groups[_group].First + _groups[_group].Count)
        {
            _group++;
            try
            {
                _ranges.MoveNext();
            }
            catch (IOException e)
            {
                var (first, count) = _groups[_group];
                var names = string.Join(", ", _tensors.Skip(first).Take(count).Select(t => $"'{t.Info.Name}'"));
                throw new IOException($"{_tensors[first].File.Path}: cannot read tensor(s) {names}: {e.Message}", e);
            }
        }
        return true;
    }

    private static long Absolute(StreamedTensorSource t) => t.File.Header.DataOffset + t.Info.Begin;

    public void Dispose() => _ranges.Dispose();
}
