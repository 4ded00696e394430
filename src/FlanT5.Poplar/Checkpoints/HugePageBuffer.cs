using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// A large native buffer on a 2 MiB boundary with transparent huge pages requested (Linux): streaming gigabytes
/// through a few hundred MB of reused buffers then costs a few hundred page faults instead of ~100k — which matters
/// in virtual machines, where each fault is expensive — and O_DIRECT reads into it pin fewer pages. Freed on dispose.
/// </summary>
public sealed unsafe class HugePageBuffer : IDisposable
{
    /// <summary>Size of a transparent huge page (x86-64, arm64 with 4 KiB base pages).</summary>
    public const int HugePageBytes = 2 << 20;

    private void* _memory;

    /// <summary>Bytes held: the requested length rounded up to whole huge pages.</summary>
    public long Length { get; }

    public HugePageBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = Math.Max(HugePageBytes, (length + HugePageBytes - 1) / HugePageBytes * HugePageBytes);
        _memory = NativeMemory.AlignedAlloc((nuint)Length, HugePageBytes);
        FileSystemSync.AdviseHugePages(_memory, (nuint)Length);
    }

    /// <summary>Start of the buffer; stays put until <see cref="Dispose"/>.</summary>
    public IntPtr Address => _memory is null ? throw new ObjectDisposedException(nameof(HugePageBuffer)) : (IntPtr)_memory;

    /// <summary>The first <paramref name="count"/> elements of type <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>(int count) where T : unmanaged
    {
        if (count < 0 || (long)count * sizeof(T) > Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} elements of {sizeof(T)} bytes do not fit in {Length} bytes");
        return new Span<T>((void*)Address, count);
    }

    public void Dispose()
    {
        if (_memory is null) return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
