using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>IpuDevice and IpuTensor on the emulator.</summary>
[TestFixture]
public class IpuDeviceTests
{
    // 4 tiles x 1 KiB: a 4 KiB IPU, so capacity limits are reached with tiny tensors.
    private static IpuDeviceOptions Small(int ipus = 2) =>
        new() { NumIpus = ipus, TilesPerIpu = 4, BytesPerTile = 1024, StreamingBytesPerIpu = 64 * 1024, NumThreads = 1 };

    [Test]
    public void OpensWithTheLibraryDefaults()
    {
        var defaults = new IpuDeviceOptions();
        using var device = IpuDevice.Open();

        Assert.Multiple(() =>
        {
            Assert.That(defaults.Backend, Is.EqualTo(IpuBackend.Emulator));
            Assert.That(defaults.NumIpus, Is.EqualTo(1));
            Assert.That(defaults.TilesPerIpu, Is.EqualTo(1472));
            Assert.That(defaults.BytesPerTile, Is.EqualTo(638_976));
            Assert.That(device.Topology, Is.EqualTo(new IpuTopology(defaults.Backend, defaults.NumIpus, defaults.TilesPerIpu,
                defaults.BytesPerTile, defaults.StreamingBytesPerIpu, defaults.ClockHz, defaults.NumThreads)));
            Assert.That(IpuDevice.IsAvailable(IpuBackend.Emulator), Is.True);
        });
    }

    [Test]
    public void ReportsTopologyAndMemoryOfEachIpu()
    {
        using var device = IpuDevice.Open(Small(ipus: 3));
        Assert.That(device.Topology.NumIpus, Is.EqualTo(3));
        Assert.That(device.Topology.OnChipBytesPerIpu, Is.EqualTo(4096));
        for (var ipu = 0; ipu < 3; ipu++)
        {
            var report = device.MemoryReport(ipu);
            Assert.That(report, Is.EqualTo(new IpuMemoryReport(ipu, 4096, 0, 0, 64 * 1024, 0, 0, 0)));
        }
        Assert.Throws<Ft5InvalidArgumentException>(() => device.MemoryReport(3));
        Assert.That(device.Traffic, Is.EqualTo(new IpuTrafficReport(0, 0, 0, 0)));
    }

    [Test]
    public void TensorWriteReadRoundTrip()
    {
        using var device = IpuDevice.Open(Small());
        using var tensor = device.CreateTensor("weights", TensorDataType.Float32, 1, MemoryLocation.OnChip, [2, 3]);
        float[] data = [1.5f, -2f, 3.25f, 0f, float.MaxValue, -0.125f];
        var back = new float[6];

        tensor.Read<float>(back);
        Assert.That(back, Is.All.Zero, "tensors start zero-filled");
        tensor.Write<float>(data);
        tensor.Read<float>(back);

        Assert.That(back, Is.EqualTo(data));
        Assert.That(tensor.ByteSize, Is.EqualTo(24));
        Assert.That(tensor.Shape, Is.EqualTo(new long[] { 2, 3 }));
        var report = device.MemoryReport(1);
        Assert.That(report.OnChipUsedBytes, Is.EqualTo(24));
        Assert.That(report.LiveTensors, Is.EqualTo(1));
        Assert.That(device.MemoryReport(0).OnChipUsedBytes, Is.Zero);
    }

    [Test]
    public void StreamingTensorsCountTheirTraffic()
    {
        using var device = IpuDevice.Open(Small());
        using var tensor = device.CreateTensor("ids", TensorDataType.Int32, 0, MemoryLocation.Streaming, [4]);
        tensor.Write<int>([1, 2, 3, 4]);
        var back = new int[4];
        tensor.Read<int>(back);
        Assert.That(back, Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(device.MemoryReport(0).StreamingUsedBytes, Is.EqualTo(16));
        Assert.That(device.Traffic.StreamingBytes, Is.EqualTo(16));
        device.ResetTraffic();
        Assert.That(device.Traffic.StreamingBytes, Is.Zero);
    }

    [Test]
    public void DisposingATensorFreesItsMemoryAndPeaksReset()
    {
        using var device = IpuDevice.Open(Small());
        var tensor = device.CreateTensor("t", TensorDataType.Float16, 0, MemoryLocation.OnChip, [100]);
        Assert.That(device.MemoryReport(0).OnChipUsedBytes, Is.EqualTo(200));
        tensor.Dispose();
        var report = device.MemoryReport(0);
        Assert.That((report.OnChipUsedBytes, report.OnChipPeakBytes, report.LiveTensors), Is.EqualTo((0L, 200L, 0L)));
        device.ResetPeaks();
        Assert.That(device.MemoryReport(0).OnChipPeakBytes, Is.Zero);
    }

    [Test]
    public void AllocatingPastAnIpusCapacityThrowsAndTheDeviceStaysUsable()
    {
        using var device = IpuDevice.Open(Small());
        using var first = device.CreateTensor("first", TensorDataType.Float32, 1, MemoryLocation.OnChip, [1000]);

        var e = Assert.Throws<Ft5OutOfMemoryException>(
            () => device.CreateTensor("too-big", TensorDataType.Float32, 1, MemoryLocation.OnChip, [100]))!;

        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(Ft5StatusCode.OutOfMemory));
            Assert.That(e.Function, Is.EqualTo("ft5_tensor_create"));
            Assert.That(e.NativeMessage, Does.Contain("IPU 1"));
            Assert.That(e.NativeMessage, Does.Contain("too-big"));
            Assert.That(e.NativeMessage, Does.Contain("requested 400 bytes"));
            Assert.That(e.NativeMessage, Does.Contain("free 96 "));
            Assert.That(e.Message, Does.Contain(e.NativeMessage));
        });

        using var fits = device.CreateTensor("fits", TensorDataType.Float32, 1, MemoryLocation.OnChip, [24]);
        fits.Write<float>(new float[24]);
        Assert.That(device.MemoryReport(1).OnChipUsedBytes, Is.EqualTo(4096));
        Assert.That(device.MemoryReport(1).LiveTensors, Is.EqualTo(2));
    }

    [Test]
    public void WrongSizesAndElementTypesAreRejectedWithTheTensorsName()
    {
        using var device = IpuDevice.Open(Small());
        using var tensor = device.CreateTensor("bias", TensorDataType.Float32, 0, MemoryLocation.OnChip, [3]);

        var length = Assert.Throws<Ft5InvalidArgumentException>(() => tensor.Write<float>(new float[4]))!;
        Assert.That(length.NativeMessage, Does.Contain("bias").And.Contain("16").And.Contain("12"));
        var type = Assert.Throws<ArgumentException>(() => tensor.Write<short>(new short[6]))!;
        Assert.That(type.Message, Does.Contain("bias").And.Contain("Float32"));
        Assert.Throws<ArgumentException>(() => device.CreateTensor("r9", TensorDataType.Float32, 0, MemoryLocation.OnChip,
            [1, 1, 1, 1, 1, 1, 1, 1, 1]));
        Assert.Throws<Ft5InvalidArgumentException>(() => device.CreateTensor("neg", TensorDataType.Float32, 0,
            MemoryLocation.OnChip, [-1]));
        Assert.Throws<Ft5InvalidArgumentException>(() => device.CreateTensor("ipu", TensorDataType.Float32, 2,
            MemoryLocation.OnChip, [1]));
    }

    [Test]
    public void DoubleDisposeIsHarmless()
    {
        var device = IpuDevice.Open(Small());
        var tensor = device.CreateTensor("t", TensorDataType.Float32, 0, MemoryLocation.OnChip, [1]);
        tensor.Dispose();
        tensor.Dispose();
        device.Dispose();
        device.Dispose();
    }

    [Test]
    public void UseAfterDisposeThrowsObjectDisposed()
    {
        var device = IpuDevice.Open(Small());
        var tensor = device.CreateTensor("t", TensorDataType.Float32, 0, MemoryLocation.OnChip, [2]);
        tensor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tensor.Write<float>(new float[2]));
        Assert.Throws<ObjectDisposedException>(() => tensor.Read<float>(new float[2]));
        Assert.Throws<ObjectDisposedException>(() => _ = tensor.ByteSize);

        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.MemoryReport(0));
        Assert.Throws<ObjectDisposedException>(() => device.ResetPeaks());
        Assert.Throws<ObjectDisposedException>(() => _ = device.Traffic);
        Assert.Throws<ObjectDisposedException>(
            () => device.CreateTensor("late", TensorDataType.Float32, 0, MemoryLocation.OnChip, [1]));
    }

    [Test]
    public void ATensorOutlivesItsDisposedDevice()
    {
        var device = IpuDevice.Open(Small());
        var tensor = device.CreateTensor("survivor", TensorDataType.Int32, 0, MemoryLocation.OnChip, [3]);
        device.Dispose();

        tensor.Write<int>([7, 8, 9]);
        var back = new int[3];
        tensor.Read<int>(back);
        Assert.That(back, Is.EqualTo(new[] { 7, 8, 9 }));
        Assert.Throws<ObjectDisposedException>(() => device.MemoryReport(0));
        tensor.Dispose();
    }

    [Test]
    public void InvalidOptionsAreRejectedBeforeTheNativeCall()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => IpuDevice.Open(new IpuDeviceOptions { NumIpus = 0 }))!;
        Assert.That(e.Message, Does.Contain("NumIpus"));
        Assert.Throws<ArgumentOutOfRangeException>(() => IpuDevice.Open(new IpuDeviceOptions { BytesPerTile = -1 }));
    }
}
