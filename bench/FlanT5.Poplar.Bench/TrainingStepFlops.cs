using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// The matmul floating-point operations of one T5 training step (forward and backward of every matmul: the backward
/// computes the input's and the weight's gradient, twice the forward's work), counted from the model's shape. Norms,
/// softmax, activations and the optimizer are left out: they are memory-bound and small beside the matmuls.
/// </summary>
internal static class TrainingStepFlops
{
    public static double Of(T5ModelConfig c, int batch, int srcLen, int tgtLen)
    {
        double d = c.DModel, inner = c.InnerDim, src = (double)batch * srcLen, tgt = (double)batch * tgtLen;
        double ffn = (c.FeedForward == FeedForwardKind.GatedGelu ? 3 : 2) * d * c.DFf;
        double projections = 4 * d * inner;  // q, k, v, o
        // Multiply-accumulates of the forward pass.
        double encoder = c.NumLayers * src * (projections + ffn + 2 * srcLen * inner);  // + scores and weighted values
        double decoder = c.NumDecoderLayers * (
            tgt * (projections + ffn + 2 * tgtLen * inner)          // self-attention and feed-forward
            + tgt * (2 * d * inner + 2 * srcLen * inner)              // cross-attention q, o, scores, values
            + src * 2 * d * inner);                                   // cross-attention k, v of the encoder output
        double lmHead = tgt * d * c.VocabSize;
        return 3 * 2 * (encoder + decoder + lmHead);
    }
}
