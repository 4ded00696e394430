using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Reporting;

namespace FlanT5.Poplar.Tests.Reporting;

public class RunSummaryTests
{
    [Test]
    public void WritesSnakeCaseJsonAndReadsBack()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ft5-summary-" + Guid.NewGuid().ToString("N"));
        try
        {
            var eval = new EvaluationAccumulator("validation_matched", LabelSet.Mnli);
            eval.Add(0, "entailment");
            eval.Add(1, "what");
            var paths = new RunOutputPaths(dir);
            var summary = new RunSummary
            {
                RunDir = dir,
                ConfigSource = "configs/tiny-emulator.yaml",
                StepsCompleted = 400,
                StepsPlanned = 400,
                SkippedSteps = 1,
                Samples = 12_800,
                TrainSeconds = 64,
                SamplesPerSecond = 200,
                FinalLoss = 0.0125,
                Accuracy = new Dictionary<string, SplitAccuracy> { ["validation_matched"] = SplitAccuracy.From(eval.Result()) },
                Outputs = new Dictionary<string, string> { ["metrics_jsonl"] = paths.MetricsJsonl, ["loss_plot"] = paths.LossPlot },
            };

            summary.Write(paths.Summary);
            var text = File.ReadAllText(paths.Summary);
            var back = RunSummary.Read(paths.Summary);

            Assert.That(text, Does.Contain("\"steps_completed\": 400").And.Contain("\"samples_per_second\": 200")
                .And.Contain("\"validation_matched\": {").And.Contain("\"accuracy\": 0.5").And.Contain("\"metrics_jsonl\""));
            Assert.That(back.Accuracy["validation_matched"], Is.EqualTo(new SplitAccuracy(0.5, 1, 2, 1)));
            Assert.That(back.Outputs["loss_plot"], Is.EqualTo(paths.LossPlot));
            Assert.That(back.FinalLoss, Is.EqualTo(0.0125));
            Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1), "no temporary file left behind");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ReadingGarbageIsInvalidData()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{ not json");
            Assert.Throws<InvalidDataException>(() => RunSummary.Read(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
