using FlanT5.Poplar.Evaluation;

namespace FlanT5.Poplar.Tests.Evaluation;

public class EvaluationAccumulatorTests
{
    private static EvaluationResult Sample()
    {
        var acc = new EvaluationAccumulator("validation_mismatched", LabelSet.Mnli);
        (int Gold, string Generated)[] rows =
        [
            (0, "entailment</s>"), (0, "entailment"), (0, "neutral"), (0, "maybe"),
            (1, "neutral"), (1, "contradiction"),
            (2, "contradiction"), (2, "contradiction"), (2, "<pad>"), (2, "entailment"),
        ];
        foreach (var (gold, generated) in rows) acc.Add(gold, generated);
        return acc.Result();
    }

    [Test]
    public void AccuracyCountsAndConfusionMatrix()
    {
        var result = Sample();

        Assert.Multiple(() =>
        {
            Assert.That(result.Total, Is.EqualTo(10));
            Assert.That(result.Correct, Is.EqualTo(5));
            Assert.That(result.Accuracy, Is.EqualTo(0.5));
            Assert.That(result.Unknown, Is.EqualTo(2));
            Assert.That(result.ConfusionMatrix, Is.EqualTo(new[]
            {
                new[] { 2, 1, 0, 1 },
                new[] { 0, 1, 1, 0 },
                new[] { 1, 0, 2, 1 },
            }));
            Assert.That(result.PerClass, Is.EqualTo(new[]
            {
                new ClassCounts("entailment", 4, 3, 2),
                new ClassCounts("neutral", 2, 2, 1),
                new ClassCounts("contradiction", 4, 3, 2),
            }));
            Assert.That(result.PerClass[0].Recall, Is.EqualTo(0.5));
            Assert.That(result.PerClass[0].Precision, Is.EqualTo(2.0 / 3));
            Assert.That(result.UnknownExamples, Is.EqualTo(new[] { "maybe", "<pad>" }));
            Assert.That(result.Predictions, Is.EqualTo(new[]
            {
                "entailment", "entailment", "neutral", "unknown", "neutral", "contradiction",
                "contradiction", "contradiction", "unknown", "entailment",
            }));
        });
    }

    [Test]
    public void JsonRoundTripsWithSnakeCaseKeys()
    {
        var result = Sample();
        var json = result.ToJson();

        Assert.That(json, Does.Contain("\"confusion_matrix\"").And.Contain("\"per_class\"").And.Contain("\"accuracy\": 0.5"));
        var back = EvaluationResult.FromJson(json);
        Assert.That(back.Total, Is.EqualTo(10));
        Assert.That(back.ConfusionMatrix.Select(r => r.ToArray()), Is.EqualTo(result.ConfusionMatrix.Select(r => r.ToArray())));
        Assert.That(back.PerClass, Is.EqualTo(result.PerClass));
        Assert.That(back.Predictions, Is.EqualTo(result.Predictions));
    }

    [Test]
    public void TextRendering()
    {
        var text = Sample().ToText();
        var lines = text.TrimEnd('\n').Split('\n');

        Assert.That(lines[0], Is.EqualTo("validation_mismatched: accuracy 50.00 % (5/10), unknown 2"));
        Assert.That(lines[2], Does.Match(@"^\s+entailment\s+4\s+3\s+2\s+50\.0%\s+66\.7%$"));
        Assert.That(lines[5], Does.Match(@"gold \\ predicted\s+entailment\s+neutral\s+contradiction\s+unknown$"));
        Assert.That(lines[8], Does.Match(@"^\s+contradiction\s+1\s+0\s+2\s+1$"));
    }

    [Test]
    public void EmptySplitHasZeroAccuracy()
    {
        var result = new EvaluationAccumulator("empty", LabelSet.Mnli).Result();
        Assert.That(result.Accuracy, Is.EqualTo(0));
        Assert.That(result.PerClass.Select(c => c.Recall), Is.All.EqualTo(0));
    }

    [Test]
    public void OutOfRangeIdsAreRejected()
    {
        var acc = new EvaluationAccumulator("x", LabelSet.Mnli);
        Assert.Throws<ArgumentOutOfRangeException>(() => acc.Add(-1, "neutral"));
        Assert.Throws<ArgumentOutOfRangeException>(() => acc.AddPrediction(0, 3));
        Assert.That(acc.Total, Is.EqualTo(0));
    }
}
