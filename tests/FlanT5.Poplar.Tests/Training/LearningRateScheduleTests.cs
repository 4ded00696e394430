using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Training;

public class LearningRateScheduleTests
{
    [Test]
    public void ReferenceWarmupMatchesNumpyLinspaceBitForBit()
    {
        // numpy.linspace(1e-7, 5e-6, 11), printed with repr (the reference's warmup_schedule for the XXL run).
        double[] expected =
        [
            1e-07, 5.900000000000001e-07, 1.0800000000000002e-06, 1.5700000000000002e-06, 2.06e-06, 2.55e-06,
            3.0400000000000005e-06, 3.5300000000000005e-06, 4.0200000000000005e-06, 4.510000000000001e-06, 5e-06,
        ];
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.ConstantAfterWarmup, 5e-6, 10, 1e-7, 500);

        for (var step = 0; step < expected.Length; step++)
            Assert.That(schedule.At(step), Is.EqualTo(expected[step]), $"step {step}");
        Assert.That(schedule.At(11), Is.EqualTo(5e-6));
        Assert.That(schedule.At(499), Is.EqualTo(5e-6));
        Assert.That(schedule.At(10_000), Is.EqualTo(5e-6));
        // The device gets float32, as the reference's astype("float32").
        Assert.That(schedule.AtSingle(1), Is.EqualTo((float)5.900000000000001e-07));
    }

    [Test]
    public void NoWarmupIsConstantFromTheFirstStep()
    {
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.ConstantAfterWarmup, 1e-3, 0, 1e-7, 400);
        Assert.That(Enumerable.Range(0, 400).Select(schedule.At), Is.All.EqualTo(1e-3));
    }

    [Test]
    public void LinearDecaysToZeroAtTheEnd()
    {
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Linear, 1e-3, 2, 0.0, 10);

        Assert.That(schedule.At(0), Is.EqualTo(0.0));
        Assert.That(schedule.At(1), Is.EqualTo(5e-4));
        Assert.That(schedule.At(2), Is.EqualTo(1e-3));
        Assert.That(schedule.At(6), Is.EqualTo(5e-4));   // halfway through the 8 decay steps
        Assert.That(schedule.At(9), Is.EqualTo(1.25e-4)); // 1e-3 × (1 − 7/8)
        Assert.That(schedule.At(10), Is.EqualTo(0.0));
        Assert.That(schedule.At(12), Is.EqualTo(0.0));
    }

    [Test]
    public void CosineFollowsHalfACosine()
    {
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Cosine, 2e-3, 0, 0.0, 4);

        Assert.That(schedule.At(0), Is.EqualTo(2e-3));
        Assert.That(schedule.At(1), Is.EqualTo(1e-3 * (1 + Math.Sqrt(0.5))).Within(1e-18));
        Assert.That(schedule.At(2), Is.EqualTo(1e-3).Within(1e-18));
        Assert.That(schedule.At(3), Is.EqualTo(1e-3 * (1 - Math.Sqrt(0.5))).Within(1e-18));
        Assert.That(schedule.At(4), Is.EqualTo(0.0).Within(1e-18));
    }

    [Test]
    public void FromConfigUsesTheTrainingSection()
    {
        var config = RunConfig.Default.Training with
        {
            Steps = 20,
            LearningRate = new LearningRateSection { Maximum = 1e-4, WarmupSteps = 4, WarmupStart = 1e-7, Schedule = LearningRateScheduleKind.Linear },
        };
        var schedule = LearningRateSchedule.FromConfig(config);

        Assert.That(schedule.At(4), Is.EqualTo(1e-4));
        Assert.That(schedule.At(12), Is.EqualTo(5e-5));
    }

    [TestCase(0.0, 0, 0.0, 10)]
    [TestCase(1e-3, -1, 0.0, 10)]
    [TestCase(1e-3, 11, 0.0, 10)]
    [TestCase(1e-3, 0, 2e-3, 10)]
    [TestCase(1e-3, 0, 0.0, 0)]
    public void InvalidArgumentsAreRejected(double maximum, int warmup, double start, int total)
    {
        Assert.Throws<ArgumentException>(() =>
            _ = new LearningRateSchedule(LearningRateScheduleKind.Cosine, maximum, warmup, start, total));
    }

    [Test]
    public void NegativeStepIsRejected()
    {
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Linear, 1e-3, 0, 0, 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.At(-1));
    }
}
