using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// The session's parameters for a T5 config and embedding layout — Hugging Face names and shapes, per the
/// session parameter contract — and the full key list a Hugging Face T5 state dict has.
/// </summary>
public sealed class HfParameterMap
{
    public const string SharedEmbedding = "shared.weight";
    public const string EncoderEmbedding = "encoder.embed_tokens.weight";
    public const string DecoderEmbedding = "decoder.embed_tokens.weight";
    public const string LmHead = "lm_head.weight";

    private readonly Dictionary<string, ParameterSpec> _byName;

    public T5ModelConfig Config { get; }
    public EmbeddingLayout Layout { get; }
    /// <summary>Session parameters in Hugging Face state-dict order.</summary>
    public IReadOnlyList<ParameterSpec> Parameters { get; }

    private HfParameterMap(T5ModelConfig config, EmbeddingLayout layout, List<ParameterSpec> parameters)
    {
        Config = config;
        Layout = layout;
        Parameters = parameters;
        _byName = parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    public bool TryGet(string name, out ParameterSpec spec) => _byName.TryGetValue(name, out spec!);

    public ParameterSpec this[string name] => _byName[name];

    public static bool IsEmbeddingAlias(string name) => name is EncoderEmbedding or DecoderEmbedding;

    public static bool IsVocabMatrix(string name) => name is SharedEmbedding or EncoderEmbedding or DecoderEmbedding or LmHead;

    public static HfParameterMap Create(T5ModelConfig config, EmbeddingLayout layout)
    {
        var list = new List<ParameterSpec>();
        int v = config.VocabSize, d = config.DModel;
        void Add(string name, int shardDim, params int[] shape) =>
            list.Add(new ParameterSpec(name, shape, shardDim, name.Contains("norm", StringComparison.Ordinal) || name.Contains("bias", StringComparison.Ordinal)));

        if (layout == EmbeddingLayout.Shared) Add(SharedEmbedding, 0, v, d);
        else Add(EncoderEmbedding, 0, v, d);
        AddStack(list, config, "encoder", config.NumLayers, decoder: false);
        if (layout == EmbeddingLayout.Separate) Add(DecoderEmbedding, 0, v, d);
        AddStack(list, config, "decoder", config.NumDecoderLayers, decoder: true);
        if (!config.TieWordEmbeddings) Add(LmHead, 0, v, d);
        return new HfParameterMap(config, layout, list);
    }

    /// <summary>
    /// Every key (with shape) of a full Hugging Face T5 state dict, in its order: shared, the two embed_tokens
    /// aliases, the stacks, lm_head when untied. This is what <c>model.state_dict()</c> lists.
    /// </summary>
    public static IReadOnlyList<(string Name, int[] Shape)> FullStateDictKeys(T5ModelConfig config)
    {
        var list = new List<ParameterSpec>();
        int v = config.VocabSize, d = config.DModel;
        list.Add(new ParameterSpec(SharedEmbedding, [v, d], 0, false));
        list.Add(new ParameterSpec(EncoderEmbedding, [v, d], 0, false));
        AddStack(list, config, "encoder", config.NumLayers, decoder: false);
        list.Add(new ParameterSpec(DecoderEmbedding, [v, d], 0, false));
        AddStack(list, config, "decoder", config.NumDecoderLayers, decoder: true);
        if (!config.TieWordEmbeddings) list.Add(new ParameterSpec(LmHead, [v, d], 0, false));
        return list.Select(p => (p.Name, p.Shape)).ToList();
    }

    private static void AddStack(List<ParameterSpec> list, T5ModelConfig c, string stack, int layers, bool decoder)
    {
        int d = c.DModel, inner = c.InnerDim, ff = c.DFf;
        void Add(string name, int shardDim, params int[] shape) =>
            list.Add(new ParameterSpec(name, shape, shardDim, name.Contains("norm", StringComparison.Ordinal) || name.Contains("bias", StringComparison.Ordinal)));
        void Attention(string prefix, bool relativeBias)
        {
            Add($"{prefix}.q.weight", 0, inner, d);
            Add($"{prefix}.k.weight", 0, inner, d);
            Add($"{prefix}.v.weight", 0, inner, d);
            Add($"{prefix}.o.weight", 1, d, inner);
            if (relativeBias) Add($"{prefix}.relative_attention_bias.weight", 1, c.RelativeAttentionNumBuckets, c.NumHeads);
        }
        for (int i = 0; i < layers; i++)
        {
            string block = $"{stack}.block.{i}";
            Attention($"{block}.layer.0.SelfAttention", relativeBias: i == 0);
            Add($"{block}.layer.0.layer_norm.weight", -1, d);
            int ffnLayer = 1;
            if (decoder)
            {
                Attention($"{block}.layer.1.EncDecAttention", relativeBias: false);
                Add($"{block}.layer.1.layer_norm.weight", -1, d);
                ffnLayer = 2;
            }
            string ffn = $"{block}.layer.{ffnLayer}.DenseReluDense";
            if (c.FeedForward == FeedForwardKind.GatedGelu)
            {
                Add($"{ffn}.wi_0.weight", 0, ff, d);
                Add($"{ffn}.wi_1.weight", 0, ff, d);
            }
            else
            {
                Add($"{ffn}.wi.weight", 0, ff, d);
            }
            Add($"{ffn}.wo.weight", 1, d, ff);
            Add($"{block}.layer.{ffnLayer}.layer_norm.weight", -1, d);
        }
        Add($"{stack}.final_layer_norm.weight", -1, d);
    }
}
