using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

public sealed class EncoderBatchTests
{
    [Test]
    public void PadRightPadsToTheLongestRow()
    {
        EncoderBatch batch = EncoderBatch.Pad([[5, 6, 1], [7, 1]], padId: 0);

        Assert.That(batch.SrcLen, Is.EqualTo(3));
        Assert.That(batch.InputIds, Is.EqualTo(new[] { 5, 6, 1, 7, 1, 0 }));
        Assert.That(batch.AttentionMask, Is.EqualTo(new[] { 1, 1, 1, 1, 1, 0 }));
    }

    [Test]
    public void RejectsMismatchedShapesAndMaskValues()
    {
        Assert.That(() => new EncoderBatch([1, 2, 3], [1, 1, 1, 1], 2, 2),
            Throws.ArgumentException.With.Message.Contains("input ids hold 3 values, expected batch 2 x src_len 2"));
        Assert.That(() => new EncoderBatch([1, 2, 3, 4], [1, 1, 2, 1], 2, 2),
            Throws.ArgumentException.With.Message.Contains("row 1 position 0 is 2"));
        Assert.That(() => EncoderBatch.Pad([[5], []], 0),
            Throws.ArgumentException.With.Message.Contains("row 1 has no tokens"));
    }
}
