using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

public sealed class ScoreMathTests
{
    [Test]
    public void ArgMaxTakesTheFirstOfEqualMaxima()
    {
        Assert.That(ScoreMath.ArgMax([1f, 3f, 2f, 3f]), Is.EqualTo(1));
        Assert.That(ScoreMath.ArgMax([float.NegativeInfinity, float.NegativeInfinity]), Is.EqualTo(0));
    }

    [Test]
    public void TopKIsDescendingWithLowerIndexFirstOnTies()
    {
        float[] values = [0.5f, 2f, -1f, 2f, 7f, 0.5f, 2f];
        var indices = new int[5];
        var top = new float[5];

        ScoreMath.TopK(values, indices, top);

        Assert.That(indices, Is.EqualTo(new[] { 4, 1, 3, 6, 0 }));
        Assert.That(top, Is.EqualTo(new[] { 7f, 2f, 2f, 2f, 0.5f }));
    }

    [Test]
    public void LogSoftmaxMatchesTheDefinition()
    {
        float[] logits = [1000f, 999f, -5f, float.NegativeInfinity];
        var output = new float[4];

        ScoreMath.LogSoftmax(logits, output);

        double lse = 1000 + Math.Log(1 + Math.Exp(-1) + Math.Exp(-1005));
        Assert.That(output[0], Is.EqualTo((float)(1000 - lse)));
        Assert.That(output[1], Is.EqualTo((float)(999 - lse)));
        Assert.That(output[2], Is.EqualTo((float)(-5 - lse)));
        Assert.That(output[3], Is.EqualTo(float.NegativeInfinity));
    }
}
