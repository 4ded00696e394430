namespace FlanT5.Poplar.Interop;

/// <summary>How to open an <see cref="IpuDevice"/>. A new instance holds the library's defaults (ft5_device_desc_init).</summary>
public sealed record IpuDeviceOptions
{
    public unsafe IpuDeviceOptions()
    {
        ft5_device_desc desc;
        Ft5Native.ft5_device_desc_init(&desc);
        Backend = (IpuBackend)desc.backend;
        NumIpus = checked((int)desc.num_ipus);
        TilesPerIpu = checked((int)desc.tiles_per_ipu);
        BytesPerTile = checked((long)desc.bytes_per_tile);
        StreamingBytesPerIpu = checked((long)desc.streaming_bytes_per_ipu);
        ClockHz = desc.clock_hz;
        NumThreads = checked((int)desc.num_threads);
    }

    public IpuBackend Backend { get; init; }

    /// <summary>Number of IPUs, at least 1.</summary>
    public int NumIpus { get; init; }

    public int TilesPerIpu { get; init; }

    /// <summary>Tile memory in bytes; an IPU's on-chip capacity is TilesPerIpu x BytesPerTile.</summary>
    public long BytesPerTile { get; init; }

    public long StreamingBytesPerIpu { get; init; }

    /// <summary>Tile clock, for cycle estimates.</summary>
    public double ClockHz { get; init; }

    /// <summary>Host threads the emulator may use; 0 = all cores.</summary>
    public int NumThreads { get; init; }

    internal unsafe ft5_device_desc ToNative()
    {
        Require(NumIpus >= 1, nameof(NumIpus), NumIpus, "at least 1");
        Require(TilesPerIpu >= 1, nameof(TilesPerIpu), TilesPerIpu, "at least 1");
        Require(BytesPerTile >= 1, nameof(BytesPerTile), BytesPerTile, "at least 1");
        Require(StreamingBytesPerIpu >= 0, nameof(StreamingBytesPerIpu), StreamingBytesPerIpu, "0 or more");
        Require(NumThreads >= 0, nameof(NumThreads), NumThreads, "0 (all cores) or more");
        ft5_device_desc desc;
        Ft5Native.ft5_device_desc_init(&desc);
        desc.backend = (ft5_backend)Backend;
        desc.num_ipus = (uint)NumIpus;
        desc.tiles_per_ipu = (uint)TilesPerIpu;
        desc.bytes_per_tile = (ulong)BytesPerTile;
        desc.streaming_bytes_per_ipu = (ulong)StreamingBytesPerIpu;
        desc.clock_hz = ClockHz;
        desc.num_threads = (uint)NumThreads;
        return desc;
    }

    private static void Require(bool ok, string name, object value, string expected)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"IpuDeviceOptions.{name} is {value}; expected {expected}");
    }
}

/// <summary>The topology a device was opened with.</summary>
public sealed record IpuTopology(
    IpuBackend Backend, int NumIpus, int TilesPerIpu, long BytesPerTile, long StreamingBytesPerIpu, double ClockHz,
    int NumThreads)
{
    /// <summary>Tile memory of one IPU in bytes.</summary>
    public long OnChipBytesPerIpu => TilesPerIpu * BytesPerTile;
}

/// <summary>Memory use of one IPU (ft5_memory_report); peaks since creation or the last ResetPeaks.</summary>
public sealed record IpuMemoryReport(
    int Ipu,
    long OnChipCapacityBytes, long OnChipUsedBytes, long OnChipPeakBytes,
    long StreamingCapacityBytes, long StreamingUsedBytes, long StreamingPeakBytes,
    long LiveTensors)
{
    public long OnChipFreeBytes => OnChipCapacityBytes - OnChipUsedBytes;
}

/// <summary>Bytes moved between IPUs and to/from streaming memory since creation or the last ResetTraffic.</summary>
public sealed record IpuTrafficReport(long InterIpuBytes, long StreamingBytes, long Collectives, long EstimatedCycles);
