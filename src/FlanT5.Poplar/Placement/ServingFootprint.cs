using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// The activations of a serving session on one tensor-parallel rank (h = heads / t, i = inner / t, f = d_ff / t):
/// - KV cache, per decoder layer: self-attention K and V [B,T,i] for the T positions a row may generate, and
///   cross-attention K and V [B,S,i] projected once from the encoder output; kept for the whole generation.
/// - Encoder output [B,S,d], kept until every decoder layer has projected its cross-attention K and V.
/// - The encoder pass, one layer at a time: the residual stream and its norm [B,S,d], then either the attention
///   (q, k, v [B,S,i], probabilities [B,h,S,S], context [B,S,i]) or the feed-forward ([B,S,f], three for the gated
///   one), with the encoder position bias [h,S,S] and the input ids.
/// - One decode step, one decoder layer at a time: the hidden state and its norm [B,1,d], then the largest of the
///   self-attention (q and context [B,1,i], probabilities [B,h,1,T]), the cross-attention (the same with
///   [B,h,1,S]), the feed-forward [B,1,f] and, on the LM head's stage, the logits shard [B,V/t]; with the decoder
///   position bias [h,1,T].
/// </summary>
public sealed class ServingFootprint(T5ModelConfig model, int tensorParallel, ServingShape shape)
{
    private readonly long _b = shape.Batch;
    private readonly long _src = shape.SourceLength;
    private readonly long _tgt = shape.TargetLength;
    private readonly long _d = model.DModel;
    private readonly long _heads = model.NumHeads / tensorParallel;
    private readonly long _inner = model.InnerDim / tensorParallel;
    private readonly long _ff = model.DFf / tensorParallel;
    private readonly int _a = shape.Precision.Bytes();
    private readonly string _dtype = shape.Precision.Name();

    private TensorFootprint Act(string name, params long[] dims) => TensorFootprint.Of(name, _dtype, _a, dims);

    /// <summary>Self-attention K and V of <paramref name="layers"/> decoder layers, for every position a row may generate.</summary>
    public TensorFootprint SelfAttentionCache(int layers) =>
        Cache("decoder.block.*.layer.0.SelfAttention K+V cache", layers, _tgt);

    /// <summary>Cross-attention K and V of <paramref name="layers"/> decoder layers, for every source token.</summary>
    public TensorFootprint CrossAttentionCache(int layers) =>
        Cache("decoder.block.*.layer.1.EncDecAttention K+V cache", layers, _src);

    private TensorFootprint Cache(string name, int layers, long positions)
    {
        var one = Act(name, 2, _b, positions, _inner);
        return new TensorFootprint($"{one.Name} × {layers} layers", one.Bytes * layers);
    }

    public TensorFootprint EncoderOutput => Act("encoder output", _b, _src, _d);

    /// <summary>
    /// What one encoder layer's pass over the source holds at its peak: the residual stream, its norm and 1/rms, and
    /// the larger of the attention (q, k, v, probabilities, context) and the feed-forward, which never live together;
    /// with the encoder position bias and the input ids.
    /// </summary>
    public IReadOnlyList<TensorFootprint> EncoderPass
    {
        get
        {
            TensorFootprint[] attention =
            [
                Act("encoder layer q, k, v", 3, _b, _src, _inner),
                Act("encoder layer attention probs", _b, _heads, _src, _src),
                Act("encoder layer attention context", _b, _src, _inner),
            ];
            return
            [
                Act("encoder layer residual stream", _b, _src, _d),
                Act("encoder layer norm output", _b, _src, _d),
                new TensorFootprint($"encoder layer 1/rms [{_b},{_src}] fp32", _b * _src * 4),
                .. Larger(attention, [FeedForward("encoder layer", _src)]),
                Act("encoder position bias", _heads, _src, _src),
                new TensorFootprint($"input_ids [{_b},{_src}] int32", _b * _src * 4),
            ];
        }
    }

    /// <summary>
    /// What one decoder layer's step holds at its peak: the hidden state and its norm, and the largest of the
    /// self-attention, the cross-attention, the feed-forward and (on the LM head's stage, <paramref name="lmHead"/>)
    /// the logits shard, which run one after another; with the decoder position bias.
    /// </summary>
    public IReadOnlyList<TensorFootprint> DecodeStep(bool lmHead, long paddedVocab)
    {
        TensorFootprint[] self = [Act("decode step self-attention q+context", 2, _b, 1, _inner), Act("decode step self-attention probs", _b, _heads, 1, _tgt)];
        TensorFootprint[] cross = [Act("decode step cross-attention q+context", 2, _b, 1, _inner), Act("decode step cross-attention probs", _b, _heads, 1, _src)];
        TensorFootprint[] ffn = [FeedForward("decode step", 1)];
        TensorFootprint[] logits = lmHead ? [Act("decode step lm_head logits shard", _b, paddedVocab / tensorParallel)] : [];
        return
        [
            Act("decode step hidden state", _b, 1, _d),
            Act("decode step norm output", _b, 1, _d),
            .. Larger(Larger(self, cross), Larger(ffn, logits)),
            Act("decoder position bias", _heads, 1, _tgt),
        ];
    }

    private TensorFootprint FeedForward(string what, long tokens) => model.FeedForward == FeedForwardKind.GatedGelu
        ? Act($"{what} wi_0, wi_1, gelu(wi_0) * wi_1", 3, _b, tokens, _ff)
        : Act($"{what} relu output", _b, tokens, _ff);

    private static TensorFootprint[] Larger(TensorFootprint[] a, TensorFootprint[] b) => a.Sum(t => t.Bytes) >= b.Sum(t => t.Bytes) ? a : b;
}
