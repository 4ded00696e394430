using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A tensor to stream: the name it is delivered under, the file holding it and its entry there.</summary>
public readonly record struct StreamedTensorSource(string Name, SafetensorsReader File, SafetensorsTensorInfo Info);

/// <summary>
/// Delivers the stored bytes of tensors in the order given, read ahead by a <see cref="FileRangeStream"/> (O_DIRECT
/// where possible) — the fast path for converting a whole checkpoint, where the memory-mapped
/// <see cref="SafetensorsReader"/> suits random access. Neighbouring small tensors of one file are read as one range
/// (up to <see cref="GroupBytes"/> by default), so a layer norm costs no read of its own; a tensor larger than that arrives in
/// pieces of whole dimension-0 rows (<see cref="PieceStart"/>), so the read buffers — and the memory — do not grow
/// with the largest tensor (an XXL lm_head is 0.5 GB in fp32). <see cref="Bytes"/> is a span over the read buffer:
/// valid until the next <see cref="MoveNext"/>.
/// </summary>
public sealed class SafetensorsTensorStream : IDisposable
{
    /// <summary>Default of <c>groupBytes</c>: tensors of one file that lie next to each other are read together up to
    /// this many bytes, and larger tensors arrive in pieces of at most this size (unless one row is larger).</summary>
    public const int GroupBytes = 64 << 20;

    private readonly IReadOnlyList<StreamedTensorSource> _tensors;
    /// <summary>What is delivered, in order: a tensor's elements [Start, Start + Count), and which range holds them.</summary>
    private readonly List<(int Tensor, long Start, long Count, int Range)> _pieces = [];
    private readonly FileRangeStream _ranges;
    private int _piece = -1;
    private int _range = -1;

    public SafetensorsTensorStream(IReadOnlyList<StreamedTensorSource> tensors, FileStreamingOptions? options = null, int groupBytes = GroupBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupBytes, 1);
        _tensors = tensors;
        var ranges = new List<FileRange>();
        for (int i = 0; i < tensors.Count;)
        {
            var t = tensors[i];
            if (t.Info.ByteLength > groupBytes)
            {
                // Pieces of whole dimension-0 rows, each its own range.
                int elementSize = t.Info.DType.ElementSize();
                long rowElements = t.Info.Shape.Length == 0 || t.Info.Shape[0] == 0 ? t.Info.ElementCount : t.Info.ElementCount / t.Info.Shape[0];
                long rowsPerPiece = Math.Max(1, groupBytes / Math.Max(1, rowElements * elementSize));
                for (long start = 0; start < t.Info.ElementCount; start += rowsPerPiece * rowElements)
                {
                    long count = Math.Min(rowsPerPiece * rowElements, t.Info.ElementCount - start);
                    if (count * elementSize > int.MaxValue - 2 * 4096)
                        throw new InvalidDataException($"{t.File.Path}: a dimension-0 row of tensor '{t.Info.Name}' has {count * elementSize} bytes; streaming reads at most 2 GB at once");
                    _pieces.Add((i, start, count, ranges.Count));
                    ranges.Add(new FileRange(t.File.Path, Absolute(t) + start * elementSize, (int)(count * elementSize)));
                }
                i++;
                continue;
            }
            int first = i;
            long begin = Absolute(t), end = begin + t.Info.ByteLength;
            _pieces.Add((i, 0, t.Info.ElementCount, ranges.Count));
            // Grow the group while the next tensor of the same file starts where this one ends.
            for (i++; i < tensors.Count && tensors[i].File == t.File && Absolute(tensors[i]) == end
                && end + tensors[i].Info.ByteLength - begin <= groupBytes; i++)
            {
                _pieces.Add((i, 0, tensors[i].Info.ElementCount, ranges.Count));
                end += tensors[i].Info.ByteLength;
            }
            ranges.Add(new FileRange(t.File.Path, begin, (int)(end - begin)));
        }
        _ranges = new FileRangeStream(ranges, options);
    }

    /// <summary>Whether every file is read with O_DIRECT (false: through the page cache).</summary>
    public bool Direct => _ranges.AllDirect;

    /// <summary>Bytes allocated for read buffers.</summary>
    public long BufferBytes => _ranges.BufferBytes;

    /// <summary>The tensor the current piece belongs to.</summary>
    public StreamedTensorSource Current => _piece >= 0 && _piece < _pieces.Count ? _tensors[_pieces[_piece].Tensor] : throw new InvalidOperationException("no current tensor");

    /// <summary>Index of the current piece's first element in its tensor (0 for a tensor delivered whole).</summary>
    public long PieceStart => _pieces[_piece].Start;

    /// <summary>Elements in the current piece.</summary>
    public long PieceElements => _pieces[_piece].Count;

    /// <summary>Whether the current piece is the tensor's last (true for a tensor delivered whole).</summary>
    public bool IsLastPiece => PieceStart + PieceElements == Current.Info.ElementCount;

    /// <summary>The current piece's stored bytes (its dtype, little-endian, as in the file).</summary>
    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            var (tensor, start, count, _) = _pieces[_piece];
            var t = _tensors[tensor];
            int elementSize = t.Info.DType.ElementSize();
            return _ranges.Current.Slice((int)(Absolute(t) + start * elementSize - _ranges.CurrentRange.Offset), (int)(count * elementSize));
        }
    }

    /// <summary>The current piece's stored elements as <typeparamref name="T"/> (e.g. ushort for bf16).</summary>
    public ReadOnlySpan<T> Elements<T>() where T : unmanaged => MemoryMarshal.Cast<byte, T>(Bytes);

    /// <summary>Converts the current piece (F32, F16, BF16 or F64) to fp32 into its place in
    /// <paramref name="tensor"/>, which holds the whole tensor (elements [PieceStart, PieceStart + PieceElements)).</summary>
    public void ReadFloat32(Span<float> tensor)
    {
        var t = Current;
        if (!t.Info.DType.IsFloatingConvertible())
            throw new InvalidDataException($"{t.File.Path}: tensor '{t.Info.Name}' has dtype {t.Info.DType.HeaderName()}; expected F32, F16 or BF16");
        if (tensor.Length != t.Info.ElementCount)
            throw new ArgumentException($"{t.File.Path}: tensor '{t.Info.Name}' has {t.Info.ElementCount} elements, destination holds {tensor.Length}");
        DTypeConversion.ToFloat32(t.Info.DType, Bytes, tensor.Slice((int)PieceStart, (int)PieceElements));
    }

    /// <summary>Moves to the next piece (the next tensor, or the next part of a large one), waiting for its bytes;
    /// false after the last.</summary>
    public bool MoveNext()
    {
        if (_piece + 1 >= _pieces.Count)
        {
            _piece = _pieces.Count;
            return false;
        }
        _piece++;
        if (_pieces[_piece].Range != _range)
        {
            _range = _pieces[_piece].Range;
            try
            {
                _ranges.MoveNext();
            }
            catch (IOException e)
            {
                var names = string.Join(", ", _pieces.Where(p => p.Range == _range).Select(p => $"'{_tensors[p.Tensor].Info.Name}'").Distinct());
                throw new IOException($"{_tensors[_pieces[_piece].Tensor].File.Path}: cannot read tensor(s) {names}: {e.Message}", e);
            }
        }
        return true;
    }

    private static long Absolute(StreamedTensorSource t) => t.File.Header.DataOffset + t.Info.Begin;

    public void Dispose() => _ranges.Dispose();
}
