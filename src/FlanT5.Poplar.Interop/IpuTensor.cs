using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Interop;

/// <summary>A named, zero-initialised allocation on one IPU; host data goes in and out through spans.</summary>
public sealed unsafe class IpuTensor : IDisposable
{
    private readonly TensorHandle _handle;
    private volatile bool _disposed;

    internal IpuTensor(TensorHandle handle, string name, TensorDataType dataType, int ipu, MemoryLocation location,
        long[] shape)
    {
        _handle = handle;
        Name = name;
        DataType = dataType;
        Ipu = ipu;
        Location = location;
        Shape = shape;
    }

    public string Name { get; }
    public TensorDataType DataType { get; }
    public int Ipu { get; }
    public MemoryLocation Location { get; }
    public IReadOnlyList<long> Shape { get; }

    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    public long ByteSize
    {
        get
        {
            ulong bytes;
            using (var tensor = Acquire()) Ft5Native.Checked.ft5_tensor_byte_size(tensor.Pointer, &bytes);
            return (long)bytes;
        }
    }

    /// <summary>Copies the whole tensor from host memory; data must hold exactly its elements.</summary>
    public void Write<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        CheckElementType<T>();
        var bytes = MemoryMarshal.AsBytes(data);
        using var tensor = Acquire();
        fixed (byte* p = bytes) Ft5Native.Checked.ft5_tensor_write(tensor.Pointer, p, (nuint)bytes.Length);
    }

    /// <summary>Copies the whole tensor into host memory; data must have room for exactly its elements.</summary>
    public void Read<T>(Span<T> data) where T : unmanaged
    {
        CheckElementType<T>();
        var bytes = MemoryMarshal.AsBytes(data);
        using var tensor = Acquire();
        fixed (byte* p = bytes) Ft5Native.Checked.ft5_tensor_read(tensor.Pointer, p, (nuint)bytes.Length);
    }

    public void Dispose()
    {
        _disposed = true;
        _handle.Dispose();
    }

    private void CheckElementType<T>() where T : unmanaged
    {
        if (sizeof(T) != DataType.ElementSize())
        {
            throw new ArgumentException(
                $"tensor '{Name}' holds {DataType} ({DataType.ElementSize()}-byte elements); {typeof(T).Name} is {sizeof(T)} bytes");
        }
    }

    private Ft5Handle<ft5_tensor>.Lease Acquire()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _handle.Acquire();
    }
}
