namespace FlanT5.Poplar.Interop;

/// <summary>
/// The Hugging Face T5 config fields that change the math (ft5_model_desc). A new instance holds the library's
/// defaults (ft5_model_desc_init: the flan-t5-small geometry).
/// </summary>
public sealed record ModelDescription
{
    public unsafe ModelDescription()
    {
        ft5_model_desc d;
        Ft5Native.ft5_model_desc_init(&d);
        VocabSize = (int)d.vocab_size;
        DModel = (int)d.d_model;
        DKv = (int)d.d_kv;
        DFf = (int)d.d_ff;
        NumHeads = (int)d.num_heads;
        NumLayers = (int)d.num_layers;
        NumDecoderLayers = (int)d.num_decoder_layers;
        RelativeAttentionNumBuckets = (int)d.relative_attention_num_buckets;
        RelativeAttentionMaxDistance = (int)d.relative_attention_max_distance;
        LayerNormEpsilon = d.layer_norm_epsilon;
        FeedForward = (FeedForwardKind)d.feed_forward_proj;
        TieWordEmbeddings = d.tie_word_embeddings != 0;
        EmbeddingLayout = (EmbeddingLayout)d.embedding_layout;
        DropoutRate = d.dropout_rate;
        PadTokenId = d.pad_token_id;
        EosTokenId = d.eos_token_id;
        DecoderStartTokenId = d.decoder_start_token_id;
        Seed = d.seed;
    }

    public int VocabSize { get; init; }
    public int DModel { get; init; }
    public int DKv { get; init; }
    public int DFf { get; init; }
    public int NumHeads { get; init; }
    public int NumLayers { get; init; }
    public int NumDecoderLayers { get; init; }
    public int RelativeAttentionNumBuckets { get; init; }
    public int RelativeAttentionMaxDistance { get; init; }
    public float LayerNormEpsilon { get; init; }
    public FeedForwardKind FeedForward { get; init; }

    /// <summary>lm_head is the shared embedding and the decoder output is scaled by d_model^-0.5.</summary>
    public bool TieWordEmbeddings { get; init; }

    public EmbeddingLayout EmbeddingLayout { get; init; }

    /// <summary>Applied only in training calls.</summary>
    public float DropoutRate { get; init; }

    public int PadTokenId { get; init; }
    public int EosTokenId { get; init; }
    public int DecoderStartTokenId { get; init; }

    /// <summary>Seed of the dropout random stream.</summary>
    public ulong Seed { get; init; }

    internal unsafe ft5_model_desc ToNative()
    {
        ft5_model_desc d;
        Ft5Native.ft5_model_desc_init(&d);
        d.vocab_size = Count(VocabSize, nameof(VocabSize));
        d.d_model = Count(DModel, nameof(DModel));
        d.d_kv = Count(DKv, nameof(DKv));
        d.d_ff = Count(DFf, nameof(DFf));
        d.num_heads = Count(NumHeads, nameof(NumHeads));
        d.num_layers = Count(NumLayers, nameof(NumLayers));
        d.num_decoder_layers = Count(NumDecoderLayers, nameof(NumDecoderLayers));
        d.relative_attention_num_buckets = Count(RelativeAttentionNumBuckets, nameof(RelativeAttentionNumBuckets));
        d.relative_attention_max_distance = Count(RelativeAttentionMaxDistance, nameof(RelativeAttentionMaxDistance));
        d.layer_norm_epsilon = LayerNormEpsilon;
        d.feed_forward_proj = (ft5_ffn_kind)FeedForward;
        d.tie_word_embeddings = TieWordEmbeddings ? 1 : 0;
        d.embedding_layout = (ft5_embedding_layout)EmbeddingLayout;
        d.dropout_rate = DropoutRate;
        d.pad_token_id = PadTokenId;
        d.eos_token_id = EosTokenId;
        d.decoder_start_token_id = DecoderStartTokenId;
        d.seed = Seed;
        return d;
    }

    private static uint Count(int value, string name) => value >= 0
        ? (uint)value
        : throw new ArgumentOutOfRangeException(name, value, $"ModelDescription.{name} is {value}; expected 0 or more");
}
