using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Cli;

public class TrainingProgressDisplayTests
{
    private static StepMetrics Step(int step, bool skipped = false) =>
        new(step, 25, 1.0 / step, 1e-3, 0.5, 1, 320.25, step * 0.5, skipped);

    [Test]
    public void LineHasStepLossLrThroughputAndEta()
    {
        Assert.That(ProgressLine.Format(new StepMetrics(100, 400, 0.24378, 5e-6, 1.23456, 65536, 3.6, 3600)),
            Is.EqualTo("step 100/400  loss 0.2438  lr 5.00e-06  grad 1.235  scale 65536  3.6 samples/s  elapsed 01:00:00  eta 03:00:00"));
        Assert.That(ProgressLine.Eta(new StepMetrics(0, 400, 0, 0, 0, 1, 0, 0)), Is.Null);
    }

    [Test]
    public void RedirectedOutputGetsPlainLinesEveryNStepsPlusFirstLastAndSkipped()
    {
        var output = new StringWriter();
        var display = new TrainingProgressDisplay(output, interactive: false, plainEvery: 10);

        var result = display.RunAsync("finetune", 25, observer =>
        {
            for (var s = 1; s <= 25; s++) observer.OnStep(Step(s, skipped: s == 13));
            return Task.FromResult(42);
        }).GetAwaiter().GetResult();

        Assert.That(result, Is.EqualTo(42));
        var lines = output.ToString().TrimEnd().Split(Environment.NewLine);
        Assert.That(lines.Select(l => l.Split(' ')[1]), Is.EqualTo(new[] { "1/25", "10/25", "13/25", "20/25", "25/25" }));
        Assert.That(lines[2], Does.EndWith("SKIPPED (non-finite)"));
        Assert.That(lines.All(l => !l.Contains('\u001b')), "no ANSI escapes in plain mode");
    }

    [Test]
    public void InteractiveModeRunsTheTrainingAndRendersTheBar()
    {
        var output = new StringWriter();
        var display = new TrainingProgressDisplay(output, interactive: true);

        var result = display.RunAsync("finetune", 3, observer =>
        {
            for (var s = 1; s <= 3; s++) observer.OnStep(new StepMetrics(s, 3, 0.5, 1e-3, 1, 1, 10, s));
            return Task.FromResult("done");
        }).GetAwaiter().GetResult();

        Assert.That(result, Is.EqualTo("done"));
        Assert.That(output.ToString(), Does.Contain("finetune 3/3 loss 0.5000 lr 1.0e-03"));
        Assert.That(output.ToString(), Does.StartWith("\u001b[?25l"), "Spectre hides the cursor while the live bar runs");
    }
}
