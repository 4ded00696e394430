namespace FlanT5.Poplar.Interop;

/// <summary>
/// A set of IPUs (emulated or real) with their memories. Disposing it while tensors or sessions are alive is allowed:
/// they keep the native device alive until they are disposed themselves.
/// </summary>
public sealed unsafe class IpuDevice : IDisposable
{
    // The handle alone cannot tell: it stays open while tensors or sessions hold references on it.
    private volatile bool _disposed;

    private IpuDevice(DeviceHandle handle, IpuTopology topology)
    {
        Handle = handle;
        Topology = topology;
    }

    internal DeviceHandle Handle { get; }

    public IpuTopology Topology { get; }

    public static IpuDevice Open(IpuDeviceOptions? options = null)
    {
        var desc = (options ?? new IpuDeviceOptions()).ToNative();
        var handle = DeviceHandle.Create(desc);
        try
        {
            ft5_device_desc actual;
            Ft5Native.ft5_device_desc_init(&actual);
            using (var device = handle.Acquire()) Ft5Native.Checked.ft5_device_get_desc(device.Pointer, &actual);
            return new IpuDevice(handle, new IpuTopology((IpuBackend)actual.backend, (int)actual.num_ipus,
                (int)actual.tiles_per_ipu, (long)actual.bytes_per_tile, (long)actual.streaming_bytes_per_ipu,
                actual.clock_hz, (int)actual.num_threads));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Whether the library can open devices of this backend.</summary>
    public static bool IsAvailable(IpuBackend backend) => Ft5Native.ft5_backend_available((ft5_backend)backend) != 0;

    public IpuMemoryReport MemoryReport(int ipu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ipu);
        ft5_memory_report r = default;
        r.struct_size = (uint)sizeof(ft5_memory_report);
        using (var device = Acquire()) Ft5Native.Checked.ft5_device_memory_report(device.Pointer, (uint)ipu, &r);
        return new IpuMemoryReport((int)r.ipu,
            (long)r.on_chip_capacity_bytes, (long)r.on_chip_used_bytes, (long)r.on_chip_peak_bytes,
            (long)r.streaming_capacity_bytes, (long)r.streaming_used_bytes, (long)r.streaming_peak_bytes,
            (long)r.live_tensors);
    }

    /// <summary>Resets every IPU's peak counters to the current use.</summary>
    public void ResetPeaks()
    {
        using var device = Acquire();
        Ft5Native.Checked.ft5_device_reset_peaks(device.Pointer);
    }

    public IpuTrafficReport Traffic
    {
        get
        {
            ft5_traffic_report r = default;
            r.struct_size = (uint)sizeof(ft5_traffic_report);
            using (var device = Acquire()) Ft5Native.Checked.ft5_device_traffic_report(device.Pointer, &r);
            return new IpuTrafficReport((long)r.inter_ipu_bytes, (long)r.streaming_bytes, (long)r.collectives,
                (long)r.estimated_cycles);
        }
    }

    public void ResetTraffic()
    {
        using var device = Acquire();
        Ft5Native.Checked.ft5_device_reset_traffic(device.Pointer);
    }

    /// <summary>Allocates a zero-filled tensor on one IPU. Past its capacity: <see cref="Ft5OutOfMemoryException"/>.</summary>
    public IpuTensor CreateTensor(string name, TensorDataType dataType, int ipu, MemoryLocation location,
        ReadOnlySpan<long> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(ipu);
        if (shape.Length > Ft5Native.FT5_MAX_RANK)
        {
            throw new ArgumentException(
                $"tensor '{name}': rank {shape.Length} exceeds the maximum of {Ft5Native.FT5_MAX_RANK}", nameof(shape));
        }
        ThrowIfDisposed();
        ft5_tensor_desc desc;
        Ft5Native.ft5_tensor_desc_init(&desc);
        desc.dtype = (ft5_dtype)dataType;
        desc.ipu = (uint)ipu;
        desc.location = (ft5_memory_location)location;
        desc.rank = (uint)shape.Length;
        for (var i = 0; i < shape.Length; i++) desc.shape[i] = shape[i];
        var utf8 = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        TensorHandle handle;
        fixed (byte* n = utf8)
        {
            desc.name = n;
            handle = TensorHandle.Create(Handle, desc);
        }
        return new IpuTensor(handle, name, dataType, ipu, location, shape.ToArray());
    }

    public void Dispose()
    {
        _disposed = true;
        Handle.Dispose();
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private Ft5Handle<ft5_device>.Lease Acquire()
    {
        ThrowIfDisposed();
        return Handle.Acquire();
    }
}
