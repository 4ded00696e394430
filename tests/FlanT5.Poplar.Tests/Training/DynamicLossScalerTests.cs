using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Training;

public class DynamicLossScalerTests
{
    private static LossScalingSection Dynamic(double initial = 1024, int interval = 3) => new()
    {
        Mode = LossScalingMode.Dynamic, Initial = initial, GrowthFactor = 2, BackoffFactor = 0.5, GrowthInterval = interval,
        Minimum = 1, Maximum = 4096,
    };

    [Test]
    public void StaticScaleNeverChangesButOverflowStillSkips()
    {
        var scaler = new DynamicLossScaler(new LossScalingSection { Mode = LossScalingMode.Static, Initial = 128 });

        for (var i = 0; i < 5000; i++) Assert.That(scaler.Update(true), Is.True);
        Assert.That(scaler.Scale, Is.EqualTo(128));
        Assert.That(scaler.Update(false), Is.False);
        Assert.That(scaler.Scale, Is.EqualTo(128));
        Assert.That(scaler.GoodSteps, Is.EqualTo(0));
    }

    [Test]
    public void OverflowHalvesAndGrowthDoublesAfterTheInterval()
    {
        var scaler = new DynamicLossScaler(Dynamic());
        var scales = new List<double>();
        bool[] finite = [true, true, true, true, false, true, false, false, true, true, true];
        var applied = finite.Select(f => { var a = scaler.Update(f); scales.Add(scaler.Scale); return a; }).ToList();

        Assert.That(applied, Is.EqualTo(finite));
        Assert.That(scales, Is.EqualTo(new double[] { 1024, 1024, 2048, 2048, 1024, 1024, 512, 256, 256, 256, 512 }));
        Assert.That(scaler.Backoffs, Is.EqualTo(3));
    }

    [Test]
    public void ScaleStaysWithinItsBounds()
    {
        var scaler = new DynamicLossScaler(Dynamic(initial: 2, interval: 1));

        for (var i = 0; i < 5; i++) scaler.Update(false);
        Assert.That(scaler.Scale, Is.EqualTo(1));
        for (var i = 0; i < 20; i++) scaler.Update(true);
        Assert.That(scaler.Scale, Is.EqualTo(4096));
    }

    [Test]
    public void StateRoundTrips()
    {
        var scaler = new DynamicLossScaler(Dynamic());
        scaler.Update(true);
        scaler.Update(false);
        scaler.Update(true);
        var state = scaler.State;

        var restored = new DynamicLossScaler(Dynamic());
        restored.Restore(state);

        Assert.That(restored.State, Is.EqualTo(new LossScalerState(512, 1)));
        restored.Update(true);
        restored.Update(true);
        Assert.That(restored.Scale, Is.EqualTo(1024));
        Assert.Throws<InvalidDataException>(() => restored.Restore(new LossScalerState(double.NaN, 0)));
    }

    [Test]
    public void InconsistentSettingsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => _ = new DynamicLossScaler(Dynamic() with { BackoffFactor = 1.5 }));
        Assert.Throws<ArgumentException>(() => _ = new DynamicLossScaler(Dynamic() with { Initial = 8192 }));
        Assert.Throws<ArgumentException>(() => _ = new DynamicLossScaler(new LossScalingSection { Initial = 0 }));
    }
}
