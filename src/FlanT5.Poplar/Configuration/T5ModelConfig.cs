using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Configuration;

/// <summary>Feed-forward variant of a T5 block.</summary>
public enum FeedForwardKind
{
    /// <summary>gelu_new(x·W0) ⊙ (x·W1), then Wo (T5 v1.1, Flan-T5).</summary>
    GatedGelu,
    /// <summary>relu(x·Wi), then Wo (original T5).</summary>
    Relu,
}

/// <summary>
/// The Hugging Face T5 config fields that change the math (config.json). Everything else in config.json
/// is carried through untouched on export by <see cref="ExtraFields"/>.
/// </summary>
public sealed record T5ModelConfig
{
    public int VocabSize { get; init; } = 32128;
    public int DModel { get; init; } = 512;
    public int DKv { get; init; } = 64;
    public int DFf { get; init; } = 1024;
    public int NumHeads { get; init; } = 6;
    public int NumLayers { get; init; } = 8;
    public int NumDecoderLayers { get; init; } = 8;
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public double LayerNormEpsilon { get; init; } = 1e-6;
    public FeedForwardKind FeedForward { get; init; } = FeedForwardKind.GatedGelu;
    public bool TieWordEmbeddings { get; init; }
    public double DropoutRate { get; init; }
    public int PadTokenId { get; init; }
    public int EosTokenId { get; init; } = 1;
    public int DecoderStartTokenId { get; init; }

    /// <summary>Fields of config.json this type does not interpret, kept for export.</summary>
    public JsonObject? ExtraFields { get; init; }

    /// <summary>Inner attention width (num_heads × d_kv); need not equal d_model.</summary>
    public int InnerDim => NumHeads * DKv;

    /// <summary>Flan-T5 hub geometries (config.json of google/flan-t5-*).</summary>
    public static T5ModelConfig FlanT5(string size) => size switch
    {
        "small" => new() { DModel = 512, DFf = 1024, NumHeads = 6, NumLayers = 8, NumDecoderLayers = 8 },
        "base" => new() { DModel = 768, DFf = 2048, NumHeads = 12, NumLayers = 12, NumDecoderLayers = 12 },
        "large" => new() { DModel = 1024, DFf = 2816, NumHeads = 16, NumLayers = 24, NumDecoderLayers = 24 },
        "xl" => new() { DModel = 2048, DFf = 5120, NumHeads = 32, NumLayers = 24, NumDecoderLayers = 24 },
        "xxl" => new() { DModel = 4096, DFf = 10240, NumHeads = 64, NumLayers = 24, NumDecoderLayers = 24 },
        _ => throw new ArgumentException($"unknown Flan-T5 size '{size}'; expected small, base, large, xl or xxl", nameof(size)),
    };

    /// <summary>Reads a Hugging Face config.json.</summary>
    public static T5ModelConfig Load(string configJsonPath)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(configJsonPath));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configJsonPath}: not valid JSON: {e.Message}", e);
        }
        if (root is not JsonObject obj)
            throw new InvalidDataException($"{configJsonPath}: expected a JSON object");
        return FromJson(obj, configJsonPath);
    }

    /// <summary>Builds the config from a parsed config.json object; <paramref name="source"/> names it in errors.</summary>
    public static T5ModelConfig FromJson(JsonObject obj, string source)
    {
        var extra = (JsonObject)obj.DeepClone();
        int Int(string key, int fallback)
        {
            extra.Remove(key);
            var node = obj[key];
            if (node is null) return fallback;
            try { return node.GetValue<int>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new InvalidDataException($"{source}: '{key}' must be an integer, found {node.ToJsonString()}");
            }
        }
        double Real(string key, double fallback)
        {
            extra.Remove(key);
            var node = obj[key];
            if (node is null) return fallback;
            try { return node.GetValue<double>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new InvalidDataException($"{source}: '{key}' must be a number, found {node.ToJsonString()}");
            }
        }
        bool Bool(string key, bool fallback)
        {
            extra.Remove(key);
            var node = obj[key];
            if (node is null) return fallback;
            try { return node.GetValue<bool>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new InvalidDataException($"{source}: '{key}' must be true or false, found {node.ToJsonString()}");
            }
        }

        var dModel = Int("d_model", 512);
        var numLayers = Int("num_layers", 6);
        extra.Remove("feed_forward_proj");
        var ffn = obj["feed_forward_proj"]?.GetValue<string>() ?? "relu";
        var feedForward = ffn switch
        {
            "gated-gelu" => FeedForwardKind.GatedGelu,
            "relu" => FeedForwardKind.Relu,
            _ => throw new InvalidDataException(
                $"{source}: feed_forward_proj '{ffn}' is not supported; expected 'gated-gelu' or 'relu'"),
        };
        var config = new T5ModelConfig
        {
            VocabSize = Int("vocab_size", 32128),
            DModel = dModel,
            DKv = Int("d_kv", 64),
            DFf = Int("d_ff", 2048),
            NumHeads = Int("num_heads", 8),
            NumLayers = numLayers,
            NumDecoderLayers = Int("num_decoder_layers", numLayers),
            RelativeAttentionNumBuckets = Int("relative_attention_num_buckets", 32),
            RelativeAttentionMaxDistance = Int("relative_attention_max_distance", 128),
            LayerNormEpsilon = Real("layer_norm_epsilon", 1e-6),
            FeedForward = feedForward,
            TieWordEmbeddings = Bool("tie_word_embeddings", true),
            DropoutRate = Real("dropout_rate", 0.1),
            PadTokenId = Int("pad_token_id", 0),
            EosTokenId = Int("eos_token_id", 1),
            DecoderStartTokenId = Int("decoder_start_token_id", 0),
            ExtraFields = extra,
        };
        config.Validate(source);
        return config;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first inconsistent field.</summary>
    public void Validate(string source)
    {
        void Positive(string key, int value)
        {
            if (value <= 0) throw new InvalidDataException($"{source}: '{key}' is {value}; expected > 0");
        }
        Positive("vocab_size", VocabSize);
        Positive("d_model", DModel);
        Positive("d_kv", DKv);
        Positive("d_ff", DFf);
        Positive("num_heads", NumHeads);
        Positive("num_layers", NumLayers);
        Positive("num_decoder_layers", NumDecoderLayers);
        Positive("relative_attention_num_buckets", RelativeAttentionNumBuckets);
        Positive("relative_attention_max_distance", RelativeAttentionMaxDistance);
        if (!(LayerNormEpsilon > 0)) throw new InvalidDataException($"{source}: 'layer_norm_epsilon' must be > 0");
        if (DropoutRate is < 0 or >= 1) throw new InvalidDataException($"{source}: 'dropout_rate' is {DropoutRate}; expected 0 <= p < 1");
        foreach (var (key, id) in new[] { ("pad_token_id", PadTokenId), ("eos_token_id", EosTokenId), ("decoder_start_token_id", DecoderStartTokenId) })
        {
            if (id < 0 || id >= VocabSize)
                throw new InvalidDataException($"{source}: '{key}' is {id}; expected an id in [0, {VocabSize})");
        }
    }

    /// <summary>config.json as Hugging Face writes it: the interpreted fields over the carried extra fields.</summary>
    public JsonObject ToHfJson()
    {
        var obj = ExtraFields is null ? new JsonObject() : (JsonObject)ExtraFields.DeepClone();
        obj["model_type"] ??= "t5";
        obj["architectures"] ??= new JsonArray("T5ForConditionalGeneration");
        obj["vocab_size"] = VocabSize;
        obj["d_model"] = DModel;
        obj["d_kv"] = DKv;
        obj["d_ff"] = DFf;
        obj["num_heads"] = NumHeads;
        obj["num_layers"] = NumLayers;
        obj["num_decoder_layers"] = NumDecoderLayers;
        obj["relative_attention_num_buckets"] = RelativeAttentionNumBuckets;
        obj["relative_attention_max_distance"] = RelativeAttentionMaxDistance;
        obj["layer_norm_epsilon"] = LayerNormEpsilon;
        obj["feed_forward_proj"] = FeedForward == FeedForwardKind.GatedGelu ? "gated-gelu" : "relu";
        obj["tie_word_embeddings"] = TieWordEmbeddings;
        obj["dropout_rate"] = DropoutRate;
        obj["pad_token_id"] = PadTokenId;
        obj["eos_token_id"] = EosTokenId;
        obj["decoder_start_token_id"] = DecoderStartTokenId;
        return obj;
    }

    /// <summary>Parameters of the model with an untied lm_head and one shared embedding (the hub count).</summary>
    public long ParameterCount()
    {
        long d = DModel, inner = InnerDim, ff = DFf, v = VocabSize, h = NumHeads, b = RelativeAttentionNumBuckets;
        long ffn = FeedForward == FeedForwardKind.GatedGelu ? 3 * d * ff : 2 * d * ff;
        long attention = 4 * d * inner;
        long encoder = NumLayers * (attention + ffn + 2 * d) + b * h + d;
        long decoder = NumDecoderLayers * (2 * attention + ffn + 3 * d) + b * h + d;
        return v * d + encoder + decoder + (TieWordEmbeddings ? 0 : v * d);
    }
}
