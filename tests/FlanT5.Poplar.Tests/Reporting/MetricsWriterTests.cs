using FlanT5.Poplar.Reporting;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Reporting;

public class MetricsWriterTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Path.Combine(Path.GetTempPath(), "ft5-metrics-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void WritesJsonlAndCsvPerStepAndReadsBack()
    {
        var paths = new RunOutputPaths(_dir);
        using (var writer = new MetricsWriter(paths))
        {
            writer.OnStep(new StepMetrics(1, 3, 2.5, 1e-3, 0.75, 1, 120.5, 0.25));
            writer.OnStep(new StepMetrics(2, 3, double.NaN, 1e-3, double.PositiveInfinity, 1, 118, 0.5, Skipped: true));
        }

        var jsonl = File.ReadAllLines(paths.MetricsJsonl);
        Assert.That(jsonl[0], Is.EqualTo(
            "{\"step\":1,\"loss\":2.5,\"lr\":0.001,\"grad_norm\":0.75,\"loss_scale\":1,\"samples_per_s\":120.5,\"elapsed_s\":0.25,\"skipped\":false}"));
        Assert.That(jsonl[1], Does.Contain("\"loss\":null").And.Contain("\"grad_norm\":null").And.Contain("\"skipped\":true"));
        var csv = File.ReadAllLines(paths.MetricsCsv);
        Assert.That(csv, Is.EqualTo(new[]
        {
            MetricsWriter.CsvHeader,
            "1,2.5,0.001,0.75,1,120.5,0.25,0",
            "2,NaN,0.001,Infinity,1,118,0.5,1",
        }));

        var back = MetricsWriter.ReadJsonl(paths.MetricsJsonl, totalSteps: 3);
        Assert.That(back[0], Is.EqualTo(new StepMetrics(1, 3, 2.5, 1e-3, 0.75, 1, 120.5, 0.25)));
        Assert.That(double.IsNaN(back[1].Loss) && double.IsNaN(back[1].GradNorm) && back[1].Skipped, Is.True);
    }

    [Test]
    public void AppendContinuesWithoutASecondHeader()
    {
        var paths = new RunOutputPaths(_dir);
        using (var writer = new MetricsWriter(paths)) writer.OnStep(new StepMetrics(1, 2, 1, 1, 1, 1, 1, 1));
        using (var writer = new MetricsWriter(paths, resumedAtStep: 1)) writer.OnStep(new StepMetrics(2, 2, 1, 1, 1, 1, 1, 2));

        Assert.That(File.ReadAllLines(paths.MetricsCsv), Has.Length.EqualTo(3));
        Assert.That(MetricsWriter.ReadJsonl(paths.MetricsJsonl).Select(m => m.Step), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void BadRecordNamesFileAndLine()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "m.jsonl");
        File.WriteAllText(path, "{\"step\":1}\n{\"loss\":1}\n");

        var e = Assert.Throws<InvalidDataException>(() => MetricsWriter.ReadJsonl(path));
        Assert.That(e!.Message, Does.StartWith($"{path}:2: not a metrics record"));
    }
}
