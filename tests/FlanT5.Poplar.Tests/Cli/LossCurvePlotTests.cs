using System.Buffers.Binary;
using FlanT5.Poplar.Cli.Reporting;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Cli;

public class LossCurvePlotTests
{
    [Test]
    public void RendersAPngHeadless()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ft5-loss-{Guid.NewGuid():N}.png");
        try
        {
            // The shape of the reference tiny run: 26.5 falling to ~1e-4 (log axis), one skipped step.
            var metrics = Enumerable.Range(1, 400)
                .Select(s => new StepMetrics(s, 400, s == 7 ? double.NaN : 26.5 * Math.Exp(-s / 30.0) + 1e-4, 1e-3, 1, 1, 300, s * 0.1, s == 7))
                .ToList();

            LossCurvePlot.Save(metrics, path, "tiny-emulator", 640, 360);

            var bytes = File.ReadAllBytes(path);
            Assert.That(bytes.Take(8), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }));
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), Is.EqualTo(640));
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)), Is.EqualTo(360));
            Assert.That(bytes.Length, Is.GreaterThan(5_000), "a blank image compresses to far less");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void NothingToPlotWritesNothing()
    {
        var metrics = new[] { new StepMetrics(1, 1, double.NaN, 1, 1, 1, 1, 1, true) };
        var path = Path.Combine(Path.GetTempPath(), $"never-{Guid.NewGuid():N}.png");
        Assert.That(LossCurvePlot.Save(metrics, path, "x"), Is.False);
        Assert.That(File.Exists(path), Is.False);
    }
}
