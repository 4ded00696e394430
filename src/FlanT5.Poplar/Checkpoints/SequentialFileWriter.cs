using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// Writes a new file front to back through one aligned staging buffer. Where the file system allows (Linux,
/// O_DIRECT), each filled buffer goes from there straight to the device: writing a multi-GB checkpoint then copies
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
    private readonly HugePageBuffer _buffer;
    private readonly int _capacity;
    private int _filled;
    private long _written;
    private bool _completed;

    /// <summary>Creates (or truncates) <paramref name="path"/>.</summary>
    public SequentialFileWriter(string path, int bufferBytes = DefaultBufferBytes, bool direct = true)
    {
        if (bufferBytes < Alignment || bufferBytes % Alignment != 0)
            throw new ArgumentOutOfRangeException(nameof(bufferBytes), $"the staging buffer ({bufferBytes} bytes) must be a positive multiple of {Alignment}");
        Path = path;
        // Created the ordinary way first (permissions, truncation), then reopened for O_DIRECT writes if allowed.
        _handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        if (direct && FileSystemSync.TryOpenDirect(path, forWriting: true) is { } directHandle)
        {
            _handle.Dispose();
            _handle = directHandle;
            Direct = true;
        }
        _capacity = bufferBytes;
        _buffer = new HugePageBuffer(bufferBytes);
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
        return _buffer.AsSpan<byte>(_capacity)[_filled..];
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
        int tail = Direct ? (_filled + Alignment - 1) / Alignment * Alignment : _filled;
        _buffer.AsSpan<byte>(tail)[_filled..].Clear(); // the pad beyond the end, cut off below
        WriteStaged(tail);
        _filled = 0;
        if (Direct) RandomAccess.SetLength(_handle, length);
        if (flushToDisk) RandomAccess.FlushToDisk(_handle);
        _completed = true;
    }

    /// <summary>Writes the whole blocks staged and moves the partial block left over to the front.</summary>
    private void Drain()
    {
        int whole = _filled / Alignment * Alignment;
        WriteStaged(whole);
        var staged = _buffer.AsSpan<byte>(_capacity);
        staged[whole.._filled].CopyTo(staged);
        _filled -= whole;
    }

    private void WriteStaged(int count)
    {
        if (count == 0) return;
        try
        {
            RandomAccess.Write(_handle, _buffer.AsSpan<byte>(count), _written);
        }
        catch (IOException e)
        {
            throw new IOException($"{Path}: writing bytes [{_written}, {_written + count}) failed: {e.Message}", e);
        }
        _written += count;
    }

    public void Dispose()
    {
        _handle.Dispose();
        _buffer.Dispose();
    }
}
