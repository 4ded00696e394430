using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>A tensor the memory plan counts: a readable name with its shard shape, and its size in bytes.</summary>
public sealed record TensorFootprint(string Name, long Bytes)
{
    /// <summary>A tensor of <paramref name="dims"/> elements of <paramref name="bytesPerElement"/> bytes, named with its shape and type.</summary>
    public static TensorFootprint Of(string name, string dtype, int bytesPerElement, params long[] dims) =>
        new($"{name} [{string.Join(",", dims)}] {dtype}", dims.Aggregate(1L, (x, y) => x * y) * bytesPerElement);
}

/// <summary>
/// The activations one micro-batch leaves on one tensor-parallel rank for the backward pass, layer by layer.
/// Counted per layer (no recomputation): for each RMSNorm its input [B,S,d], its fp32 1/rms [B,S] and its output
/// [B,S,d] (the input of the next matmul); for attention q [B,S,i], k and v [B,S_kv,i] (i = inner / t), the
/// softmax output [B,h,S,S_kv] (h = heads / t; softmax backward needs only its output) and the context [B,S,i]
/// (the input of o); for the gated FFN both wi outputs [B,S,f] (gelu backward needs its input), gelu(wi_0) (the
/// gate's backward needs it) and their product (the input of wo), f = d_ff / t; for the relu FFN only its output.
/// Residual sums are the next norm's input. Dropout masks are not counted (the reference fine-tunes with dropout 0).
/// This is what the T5 graph keeps: the emulated engine's compiled peak lists these tensors live.
/// </summary>
public sealed class ActivationFootprint(T5ModelConfig model, int tensorParallel, TrainingShape shape)
{
    private readonly long _b = shape.MicroBatch;
    private readonly long _src = shape.SourceLength;
    private readonly long _tgt = shape.TargetLength;
    private readonly long _d = model.DModel;
    private readonly long _heads = model.NumHeads / tensorParallel;
    private readonly long _inner = model.InnerDim / tensorParallel;
    private readonly long _ff = model.DFf / tensorParallel;
    private readonly int _a = shape.Precision.Bytes();
    private readonly string _dtype = shape.Precision.Name();

    private static TensorFootprint Tensor(string name, long[] dims, int bytes, string dtype) =>
        TensorFootprint.Of(name, dtype, bytes, dims);

    private TensorFootprint Act(string name, params long[] dims) => Tensor(name, dims, _a, _dtype);

    /// <summary>Input of a layer ([B,S,d]): all that recomputation keeps of it.</summary>
    public TensorFootprint LayerInput(bool decoder, int layer) =>
        Act($"{(decoder ? "decoder" : "encoder")}.block.{layer} input", _b, decoder ? _tgt : _src, _d);

    /// <summary>Encoder output, kept once per micro-batch by every stage with decoder layers (cross-attention).</summary>
    public TensorFootprint EncoderOutput => Act("encoder output", _b, _src, _d);

    /// <summary>
    /// The attention biases a stack's blocks share, computed in block 0: the encoder's relative position bias with the
    /// padding mask folded in [B,h,S,S]; the decoder's with the causal mask [h,T,T], and the cross-attention mask
    /// [B,S]. Only recomputation keeps them past the forward pass (each recomputed block needs them again).
    /// </summary>
    public IReadOnlyList<TensorFootprint> AttentionBiases(bool decoder) => decoder
        ? [Act("decoder attention bias", _heads, _tgt, _tgt), Act("cross-attention mask", _b, _src)]
        : [Act("encoder attention bias", _b, _heads, _src, _src)];

    /// <summary>
    /// The largest matmul scratch of a stack's layers: Poplar's matmul holds its partial sums and its operands
    /// rearranged for the AMP while it runs, m·n partials plus m·k + k·n operand elements (fp32 partials), for the
    /// projections ([B·S,d]×[d,i]), the feed-forward ([B·S,d]×[d,f] and back) and the per-head scores and context.
    /// </summary>
    public long LargestMatMulTemporary(bool decoder)
    {
        long s = decoder ? _tgt : _src, rows = _b * s, dkv = model.DKv;
        static long Scratch(long groups, long m, long k, long n, int bytes) => groups * (m * n * 4 + (m * k + k * n) * bytes);
        long projection = Scratch(1, rows, _d, _inner, _a);
        long feedForward = Scratch(1, rows, _d, _ff, _a);
        long scores = Scratch(_b * _heads, s, dkv, decoder ? Math.Max(_tgt, _src) : _src, _a);
        long context = Scratch(_b * _heads, s, decoder ? Math.Max(_tgt, _src) : _src, dkv, _a);
        return Math.Max(Math.Max(projection, feedForward), Math.Max(scores, context));
    }

    public IReadOnlyList<TensorFootprint> EncoderLayer(int layer)
    {
        var p = $"encoder.block.{layer}";
        var list = new List<TensorFootprint>();
        Norm(list, $"{p}.layer.0", _src);
        Attention(list, $"{p}.layer.0.SelfAttention", _src, _src);
        Norm(list, $"{p}.layer.1", _src);
        FeedForward(list, $"{p}.layer.1", _src);
        return list;
    }

    public IReadOnlyList<TensorFootprint> DecoderLayer(int layer)
    {
        var p = $"decoder.block.{layer}";
        var list = new List<TensorFootprint>();
        Norm(list, $"{p}.layer.0", _tgt);
        Attention(list, $"{p}.layer.0.SelfAttention", _tgt, _tgt);
        Norm(list, $"{p}.layer.1", _tgt);
        Attention(list, $"{p}.layer.1.EncDecAttention", _tgt, _src);
        Norm(list, $"{p}.layer.2", _tgt);
        FeedForward(list, $"{p}.layer.2", _tgt);
        return list;
    }

    /// <summary>What the encoder's final norm keeps on the encoder's last stage: its input and 1/rms (its output is the
    /// encoder output, counted on the stages that use it).</summary>
    public IReadOnlyList<TensorFootprint> EncoderFinalNorm =>
    [
        Act("encoder.final_layer_norm norm input", _b, _src, _d),
        Tensor("encoder.final_layer_norm 1/rms", [_b, _src], 4, "fp32"),
    ];

    /// <summary>Token ids (int32) the embedding backward needs: encoder and decoder inputs.</summary>
    public IReadOnlyList<TensorFootprint> Embedding =>
    [
        Tensor("input_ids", [_b, _src], 4, "int32"),
        Tensor("decoder_input_ids", [_b, _tgt], 4, "int32"),
    ];

    /// <summary>Final norm, vocab-sharded logits and labels; the LM head is never recomputed.</summary>
    public IReadOnlyList<TensorFootprint> LmHead(long paddedVocab)
    {
        var list = new List<TensorFootprint>();
        Norm(list, "decoder.final_layer_norm", _tgt);
        // the cross-entropy's gradient, formed with the loss and kept for the backward pass, is fp32 in either precision
        list.Add(Tensor("d(logits) shard", [_b, _tgt, paddedVocab / tensorParallel], 4, "fp32"));
        list.Add(Tensor("labels", [_b, _tgt], 4, "int32"));
        return list;
    }

    /// <summary>
    /// The sharded cross-entropy's fp32 working tensors, each the size of the logits shard, live at once while the loss
    /// is formed: exp(logits − max), the one-hot labels and their product with the logits (before it is reduced);
    /// fp16 logits add their fp32 copy.
    /// </summary>
    public TensorFootprint CrossEntropyWorking(long paddedVocab)
    {
        int copies = _a == 4 ? 3 : 4;
        return Tensor($"cross-entropy working (exp, one-hot, picked{(copies == 4 ? ", fp32 logits" : "")}) {copies} ×",
            [copies, _b, _tgt, paddedVocab / tensorParallel], 4, "fp32");
    }

    private void Norm(List<TensorFootprint> list, string prefix, long s)
    {
        list.Add(Act($"{prefix} norm input", _b, s, _d));
        list.Add(Tensor($"{prefix} 1/rms", [_b, s], 4, "fp32"));
        list.Add(Act($"{prefix} norm output", _b, s, _d));
    }

    private void Attention(List<TensorFootprint> list, string prefix, long sq, long skv)
    {
        list.Add(Act($"{prefix} q", _b, sq, _inner));
        list.Add(Act($"{prefix} k", _b, skv, _inner));
        list.Add(Act($"{prefix} v", _b, skv, _inner));
        list.Add(Act($"{prefix} probs", _b, _heads, sq, skv));
        list.Add(Act($"{prefix} context", _b, sq, _inner));
    }

    private void FeedForward(List<TensorFootprint> list, string prefix, long s)
    {
        if (model.FeedForward == FeedForwardKind.GatedGelu)
        {
            list.Add(Act($"{prefix} wi_0 output", _b, s, _ff));
            list.Add(Act($"{prefix} wi_1 output", _b, s, _ff));
            list.Add(Act($"{prefix} gelu(wi_0)", _b, s, _ff));
            list.Add(Act($"{prefix} gelu(wi_0) * wi_1", _b, s, _ff));
        }
        else
        {
            list.Add(Act($"{prefix} relu output", _b, s, _ff));
        }
    }
}
