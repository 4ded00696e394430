using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>One training step of random token ids in [2, <c>idLimit</c>) (seed 1) for the tests that run a step on the device.</summary>
internal static class RandomTrainingStep
{
    public static List<TokenBatch> Of(int batch, int src, int tgt, int microBatches, int idLimit)
    {
        var rng = new Random(1);
        var step = new List<TokenBatch>();
        for (int m = 0; m < microBatches; m++)
        {
            var input = Enumerable.Range(0, batch * src).Select(_ => rng.Next(2, idLimit)).ToArray();
            var labels = Enumerable.Range(0, batch * tgt).Select(_ => rng.Next(2, idLimit)).ToArray();
            var decoderInput = FlanT5.Poplar.Cli.Parity.ReferenceParity.ShiftRight(labels, batch, tgt, 0, 0);
            step.Add(new TokenBatch(batch, src, tgt, inputIds: input, decoderInputIds: decoderInput, labels: labels, training: true));
        }
        return step;
    }
}
