using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Training;

public class NonFiniteGuardTests
{
    [Test]
    public void FiniteStepsPassAndNonFiniteOnesAreSkippedAndListed()
    {
        var guard = new NonFiniteGuard();

        Assert.That(guard.Record(0, 2.5, 1.0, 1), Is.True);
        Assert.That(guard.Record(1, double.NaN, 1.0, 1), Is.False);
        Assert.That(guard.Record(2, 2.0, double.PositiveInfinity, 1), Is.False);
        Assert.That(guard.ConsecutiveSkipped, Is.EqualTo(2));
        Assert.That(guard.Record(3, 1.9, 0.5, 1), Is.True);

        Assert.That(guard.ConsecutiveSkipped, Is.EqualTo(0));
        Assert.That(guard.SkippedCount, Is.EqualTo(2));
        Assert.That(guard.Skipped.Select(s => s.Step), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(guard.Summary(), Is.EqualTo("2 of 4 steps skipped (non-finite loss or gradients): steps 1, 2"));
    }

    [Test]
    public void TooManyInARowIsADivergenceError()
    {
        var guard = new NonFiniteGuard(maxConsecutive: 3);
        guard.Record(0, double.NaN, double.NaN, 65536);
        guard.Record(1, double.NaN, double.NaN, 32768);

        var e = Assert.Throws<TrainingDivergedException>(() => guard.Record(2, double.NaN, double.NaN, 16384));
        Assert.That(e!.Message, Does.StartWith("training diverged: 3 steps in a row (up to step 2)"));
    }

    [Test]
    public void CleanRunSummary()
    {
        var guard = new NonFiniteGuard();
        guard.Record(0, 1, 1, 1);
        Assert.That(guard.Summary(), Is.EqualTo("no skipped steps in 1"));
    }
}
