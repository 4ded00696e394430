using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class IpuTargetTests
{
    [Test]
    public void Mk2DefaultsAreTheDatasheetNumbers()
    {
        var pod16 = IpuTarget.Pod16;
        Assert.That(pod16.IpuCount, Is.EqualTo(16));
        Assert.That(IpuTarget.Pod64.IpuCount, Is.EqualTo(64));
        Assert.That(pod16.OnChipBytesPerIpu, Is.EqualTo(1472L * 638_976));
        Assert.That(pod16.PeakFlopsPerSecond(NumericPrecision.Fp16), Is.EqualTo(250e12));
        Assert.That(pod16.PeakFlopsPerSecond(NumericPrecision.Fp32), Is.EqualTo(62.5e12));
        Assert.That(pod16.IpuLinkBytesPerSecond, Is.EqualTo(320e9));
        Assert.That(pod16.TileMemoryBytesPerSecond, Is.EqualTo(47.5e12));
        Assert.That(pod16.PcieBytesPerSecond, Is.EqualTo(64e9));
        Assert.That(pod16.StreamingBytesPerIpu * pod16.IpusPerMachine, Is.EqualTo(128L << 30));
        // 15 ns per hop, 1 + 16 / 4 hops.
        Assert.That(pod16.SyncSeconds, Is.EqualTo(75e-9).Within(1e-15));
    }

    [Test]
    public void BowIsFasterWithTheSameMemory()
    {
        var bow = IpuTarget.Parse("bow", 16);
        Assert.That(bow.ClockHz, Is.EqualTo(1.85e9));
        Assert.That(bow.Fp16FlopsPerSecond, Is.EqualTo(350e12));
        Assert.That(bow.TileMemoryBytesPerSecond, Is.EqualTo(65e12));
        Assert.That(bow.OnChipBytesPerIpu, Is.EqualTo(IpuTarget.Mk2(16).OnChipBytesPerIpu));
    }

    [Test]
    public void NumbersCanBeOverridden()
    {
        var tiny = IpuTarget.Mk2(2) with { TilesPerIpu = 4, BytesPerTile = 1000 };
        Assert.That(tiny.OnChipBytesPerIpu, Is.EqualTo(4000));
        var e = Assert.Throws<ArgumentException>(() => IpuTarget.Parse("gc300", 4))!;
        Assert.That(e.Message, Does.Contain("gc300"));
        Assert.Throws<ArgumentOutOfRangeException>(() => IpuTarget.Mk2(0));
    }
}
