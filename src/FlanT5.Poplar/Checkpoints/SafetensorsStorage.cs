using System.IO.MemoryMappedFiles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// The bytes behind a <see cref="SafetensorsReader"/>: a memory-mapped file, or an in-memory array (tests, fuzzing).
/// A read maps only the window it needs, so streaming a large file keeps few of its pages resident.
/// </summary>
internal abstract class SafetensorsStorage : IDisposable
{
    public abstract long Length { get; }

    /// <summary>Copies <paramref name="destination"/>.Length bytes from absolute <paramref name="offset"/>.</summary>
    public abstract void Read(long offset, Span<byte> destination);

    /// <summary>Converts the <paramref name="dtype"/> elements at absolute <paramref name="offset"/> into fp32.</summary>
    public abstract void ReadFloat32(long offset, SafetensorsDType dtype, Span<float> destination);

    /// <summary>Hints that [offset, offset + length) will be read soon.</summary>
    public virtual void Prefetch(long offset, long length) { }

    public abstract void Dispose();
}

internal sealed class MemorySafetensorsStorage(byte[] bytes) : SafetensorsStorage
{
    public override long Length => bytes.LongLength;

    public override void Read(long offset, Span<byte> destination) =>
        bytes.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);

    public override void ReadFloat32(long offset, SafetensorsDType dtype, Span<float> destination) =>
        DTypeConversion.ToFloat32(dtype, bytes.AsSpan(checked((int)offset), destination.Length * dtype.ElementSize()), destination);

    public override void Dispose() { }
}

internal sealed class MappedSafetensorsStorage : SafetensorsStorage
{
    private readonly FileStream _stream;
    private readonly MemoryMappedFile? _map;

    public MappedSafetensorsStorage(string path)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        Length = _stream.Length;
        // An empty file cannot be mapped; the header check reports it as truncated before any data read.
        _map = Length == 0 ? null : MemoryMappedFile.CreateFromFile(
            _stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
    }

    public override long Length { get; }

    public override void Read(long offset, Span<byte> destination) =>
        RandomAccess.Read(_stream.SafeFileHandle, destination, offset);

    public override void Prefetch(long offset, long length) => FileSystemSync.WillNeed(_stream.SafeFileHandle, offset, length);

    public override unsafe void ReadFloat32(long offset, SafetensorsDType dtype, Span<float> destination)
    {
        int length = destination.Length * dtype.ElementSize();
        if (length == 0) return;
        using var view = _map!.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
        var handle = view.SafeMemoryMappedViewHandle;
        byte* pointer = null;
        handle.AcquirePointer(ref pointer);
        try
        {
            DTypeConversion.ToFloat32(dtype, new ReadOnlySpan<byte>(pointer + view.PointerOffset, length), destination);
        }
        finally
        {
            handle.ReleasePointer();
        }
    }

    public override void Dispose()
    {
        _map?.Dispose();
        _stream.Dispose();
    }
}
