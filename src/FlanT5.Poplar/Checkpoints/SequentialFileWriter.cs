using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// Writes a new file front to back through two aligned staging buffers: while one is written to the file in the
/// background, the caller fills the other. Where the file system allows (Linux, O_DIRECT), each filled buffer goes
/// from there straight to the device: writing a multi-GB checkpoint then copies
/// nothing into the page cache — in a virtual machine that copy was the dearest part of an export (a third of an XL
/// export's CPU time) — and does not push the training data out of it. Elsewhere the same writes go through an
/// ordinary handle. The caller fills the buffer in place (<see cref="GetSpan"/>, <see cref="Advance"/>), so a
/// conversion writes its output once. O_DIRECT needs 4 KiB-aligned offsets and lengths: only whole blocks are
/// written until <see cref="Complete"/>, which pads the last one and then cuts the file to its exact length.
/// </summary>
public sealed class SequentialFileWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>O_DIRECT offsets, lengths and buffer addresses are multiples of the logical block size (≤ 4 KiB).</summary>
    private const int Alignment = 4096;

    /// <summary>Default staging buffer: large enough that each write is one big request to the device.</summary>
    public const int DefaultBufferBytes = 8 << 20;

    private readonly SafeFileHandle _handle;
    private readonly HugePageBuffer[] _buffers;
    private readonly int _capacity;
    private int _active;
    private int _filled;
    private long _written;
    private bool _completed;
    /// <summary>The write of the other buffer, if one is in flight.</summary>
    private Task? _pending;

    /// <summary>Creates (or truncates) <paramref name="path"/>; a symbolic link at that name is refused, not followed.</summary>
    public SequentialFileWriter(string path, int bufferBytes = DefaultBufferBytes, bool direct = true)
    {
        if (bufferBytes < Alignment || bufferBytes % Alignment != 0)
            throw new ArgumentOutOfRangeException(nameof(bufferBytes), $"the staging buffer ({bufferBytes} bytes) must be a positive multiple of {Alignment}");
        Path = path;
        _handle = FileSystemSync.CreateForWriting(path, direct, out bool isDirect);
        Direct = isDirect;
        _capacity = bufferBytes;
        _buffers = [new HugePageBuffer(bufferBytes), new HugePageBuffer(bufferBytes)];
    }

    public string Path { get; }

    /// <summary>Whether the file is written with O_DIRECT (false: through the page cache).</summary>
    public bool Direct { get; }

    /// <summary>Bytes written so far, staged or not.</summary>
    public long Position => _written + _filled;

    /// <summary>Copies <paramref name="bytes"/> to the end of the file.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var free = GetSpan(1);
            int n = Math.Min(free.Length, bytes.Length);
            bytes[..n].CopyTo(free);
            Advance(n);
            bytes = bytes[n..];
        }
    }

    /// <summary>Free staging space of at least <paramref name="sizeHint"/> bytes (1 if 0), at most the buffer's size.</summary>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (_completed) throw new InvalidOperationException($"{Path}: the file is complete; nothing more can be written");
        int needed = Math.Max(sizeHint, 1);
        if (needed > _capacity - Alignment)
            throw new ArgumentOutOfRangeException(nameof(sizeHint), $"{Path}: {sizeHint} bytes do not fit the {_capacity}-byte staging buffer at once");
        if (_capacity - _filled < needed) Drain();
        return Staging[_filled..];
    }

    public Memory<byte> GetMemory(int sizeHint = 0) =>
        throw new NotSupportedException("the staging buffer is native memory; use GetSpan");

    /// <summary>Marks <paramref name="count"/> bytes of the last <see cref="GetSpan"/> as written.</summary>
    public void Advance(int count)
    {
        if (count < 0 || count > _capacity - _filled)
            throw new ArgumentOutOfRangeException(nameof(count), $"{Path}: advancing {count} bytes with {_capacity - _filled} free in the staging buffer");
        _filled += count;
    }

    /// <summary>Writes what is staged, cuts the file to <see cref="Position"/> bytes and, if asked, forces it to disk.</summary>
    public void Complete(bool flushToDisk = true)
    {
        if (_completed) throw new InvalidOperationException($"{Path}: the file is complete; nothing more can be written");
        long length = Position;
        WaitForPendingWrite();
        int tail = Direct ? (_filled + Alignment - 1) / Alignment * Alignment : _filled;
        Staging[_filled..tail].Clear(); // the pad beyond the end, cut off below
        WriteBlocks(_buffers[_active].Address, tail, _written);
        _written += tail;
        _filled = 0;
        try
        {
            if (Direct) RandomAccess.SetLength(_handle, length);
            if (flushToDisk) RandomAccess.FlushToDisk(_handle);
        }
        catch (Exception e) when (e is IOException or ArgumentOutOfRangeException)
        {
            // .NET reports EFBIG from ftruncate (a file-size limit) as an out-of-range argument.
            throw new IOException($"{Path}: completing the file at {length} bytes failed: {e.Message}", e);
        }
        _completed = true;
    }

    private Span<byte> Staging => _buffers[_active].AsSpan<byte>(_capacity);

    /// <summary>Starts writing the whole blocks staged in the background and moves the partial block left over to
    /// the front of the other buffer, which the caller fills next (once that buffer's own write has finished).</summary>
    private void Drain()
    {
        int whole = _filled / Alignment * Alignment;
        WaitForPendingWrite();
        var next = _buffers[1 - _active].AsSpan<byte>(_capacity);
        Staging[whole.._filled].CopyTo(next);
        if (whole > 0)
        {
            IntPtr address = _buffers[_active].Address;
            long offset = _written;
            _pending = Task.Run(() => WriteBlocks(address, whole, offset));
            _written += whole;
        }
        _filled -= whole;
        _active = 1 - _active;
    }

    /// <summary>Waits for the background write; its failure surfaces here, naming the file and the bytes.</summary>
    private void WaitForPendingWrite()
    {
        if (_pending is null) return;
        var pending = _pending;
        _pending = null;
        pending.GetAwaiter().GetResult();
    }

    private unsafe void WriteBlocks(IntPtr buffer, int count, long offset)
    {
        if (count == 0) return;
        try
        {
            RandomAccess.Write(_handle, new ReadOnlySpan<byte>((void*)buffer, count), offset);
        }
        catch (Exception e) when (e is IOException or ArgumentOutOfRangeException)
        {
            // .NET reports EFBIG (past a file-size limit) as an out-of-range argument; it is a failed write all the same.
            throw new IOException($"{Path}: writing bytes [{offset}, {offset + count}) failed: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        // The buffers are freed only after the background write is over: it may still read from one of them.
        try
        {
            _pending?.Wait();
        }
        catch (AggregateException)
        {
            // An abandoned file: its write error no longer matters (Complete reports it when the file is kept).
        }
        _pending = null;
        _handle.Dispose();
        foreach (var buffer in _buffers) buffer.Dispose();
    }
}
