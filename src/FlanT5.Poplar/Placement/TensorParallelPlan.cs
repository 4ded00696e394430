using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// Every parameter of the model under a plan, in the session parameter contract: Hugging Face names and shapes,
/// Megatron-style shards (q/k/v and wi* by rows = heads / d_ff, o and wo by columns, relative bias by heads,
/// embeddings and lm_head by vocabulary rows padded to a multiple of the tp degree, norms replicated) and the
/// pipeline stage(s) that hold each one (embedding on the first stage, final norm and lm_head on the last).
/// </summary>
public sealed class TensorParallelPlan
{
    private readonly Dictionary<string, ParameterShard> _byName;

    private TensorParallelPlan(IReadOnlyList<ParameterShard> parameters, long paddedVocab)
    {
        Parameters = parameters;
        PaddedVocab = paddedVocab;
        _byName = parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    /// <summary>In session order: embeddings, encoder blocks, encoder final norm, decoder blocks, final norm, lm_head.</summary>
    public IReadOnlyList<ParameterShard> Parameters { get; }

    /// <summary>Vocabulary rows after padding to a multiple of the tp degree.</summary>
    public long PaddedVocab { get; }

    /// <summary>The parameter with this Hugging Face name; throws naming it when absent.</summary>
    public ParameterShard Find(string name) =>
        _byName.TryGetValue(name, out var shard)
            ? shard
            : throw new KeyNotFoundException($"parameter '{name}' is not part of this model and embedding layout");

    /// <summary>
    /// Vocabulary padded so it splits into <paramref name="tensorParallel"/> equal shards whose row count is a
    /// multiple of <paramref name="shardRowAlignment"/>. The session contract uses alignment 1 (a multiple of the tp
    /// degree: 32128 stays 32128 for tp 16); the reference implementation's checkpoints use 16
    /// (shard = 16·ceil(ceil(V/tp)/16): 32128 → 16 × 2016 = 32256 for tp 16).
    /// </summary>
    public static long PadVocab(long vocab, int tensorParallel, int shardRowAlignment = 1)
    {
        if (tensorParallel < 1) throw new ArgumentOutOfRangeException(nameof(tensorParallel), tensorParallel, "expected >= 1");
        if (shardRowAlignment < 1) throw new ArgumentOutOfRangeException(nameof(shardRowAlignment), shardRowAlignment, "expected >= 1");
        var rows = (vocab + tensorParallel - 1) / tensorParallel;
        rows = (rows + shardRowAlignment - 1) / shardRowAlignment * shardRowAlignment;
        return rows * tensorParallel;
    }

    public static TensorParallelPlan Build(T5ModelConfig model, PlacementPlan plan, EmbeddingLayout layout = EmbeddingLayout.Shared)
    {
        plan.Validate(model);
        int t = plan.TensorParallel, last = plan.PipelineStages - 1;
        long d = model.DModel, inner = model.InnerDim, ff = model.DFf, heads = model.NumHeads;
        var vocab = PadVocab(model.VocabSize, t);
        var list = new List<ParameterShard>();

        void Add(string name, long[] shape, int shardDim, string unit, int stage, long padded = 0, int[]? stages = null) =>
            list.Add(new ParameterShard
            {
                Name = name,
                Shape = shape,
                ShardDim = shardDim,
                ShardCount = shardDim < 0 ? 1 : t,
                PaddedDim = shardDim < 0 ? 0 : padded > 0 ? padded : shape[shardDim],
                Unit = unit,
                Stages = stages ?? [stage],
            });
        void Attention(string prefix, string unit, int stage, bool relativeBias)
        {
            foreach (var p in new[] { "q", "k", "v" }) Add($"{prefix}.{p}.weight", [inner, d], 0, unit, stage);
            Add($"{prefix}.o.weight", [d, inner], 1, unit, stage);
            if (relativeBias) Add($"{prefix}.relative_attention_bias.weight", [model.RelativeAttentionNumBuckets, heads], 1, unit, stage);
        }
        void FeedForward(string prefix, string unit, int stage)
        {
            if (model.FeedForward == FeedForwardKind.GatedGelu)
            {
                Add($"{prefix}.DenseReluDense.wi_0.weight", [ff, d], 0, unit, stage);
                Add($"{prefix}.DenseReluDense.wi_1.weight", [ff, d], 0, unit, stage);
            }
            else
            {
                Add($"{prefix}.DenseReluDense.wi.weight", [ff, d], 0, unit, stage);
            }
            Add($"{prefix}.DenseReluDense.wo.weight", [d, ff], 1, unit, stage);
        }

        // A tied embedding also serves as the LM head, so the last stage keeps a copy.
        int[] embeddingStages = model.TieWordEmbeddings && last > 0 ? [0, last] : [0];
        if (layout == EmbeddingLayout.Shared)
        {
            Add("shared.weight", [model.VocabSize, d], 0, "embedding", 0, vocab, embeddingStages);
        }
        else
        {
            Add("encoder.embed_tokens.weight", [model.VocabSize, d], 0, "embedding", 0, vocab);
            Add("decoder.embed_tokens.weight", [model.VocabSize, d], 0, "embedding", 0, vocab, embeddingStages);
        }
        for (var i = 0; i < model.NumLayers; i++)
        {
            var stage = plan.StageOfLayer(i, decoder: false);
            var unit = $"encoder.block.{i}";
            Attention($"{unit}.layer.0.SelfAttention", unit, stage, i == 0);
            Add($"{unit}.layer.0.layer_norm.weight", [d], -1, unit, stage);
            FeedForward($"{unit}.layer.1", unit, stage);
            Add($"{unit}.layer.1.layer_norm.weight", [d], -1, unit, stage);
        }
        Add("encoder.final_layer_norm.weight", [d], -1, "encoder.final", plan.StageOfLayer(model.NumLayers - 1, decoder: false));
        for (var i = 0; i < model.NumDecoderLayers; i++)
        {
            var stage = plan.StageOfLayer(i, decoder: true);
            var unit = $"decoder.block.{i}";
            Attention($"{unit}.layer.0.SelfAttention", unit, stage, i == 0);
            Add($"{unit}.layer.0.layer_norm.weight", [d], -1, unit, stage);
            Attention($"{unit}.layer.1.EncDecAttention", unit, stage, relativeBias: false);
            Add($"{unit}.layer.1.layer_norm.weight", [d], -1, unit, stage);
            FeedForward($"{unit}.layer.2", unit, stage);
            Add($"{unit}.layer.2.layer_norm.weight", [d], -1, unit, stage);
        }
        Add("decoder.final_layer_norm.weight", [d], -1, "lm_head", last);
        if (!model.TieWordEmbeddings) Add("lm_head.weight", [model.VocabSize, d], 0, "lm_head", last, vocab);
        return new TensorParallelPlan(list, vocab);
    }

    /// <summary>Elements one tp rank of <paramref name="stage"/> holds.</summary>
    public long ElementsOnStage(int stage) =>
        Parameters.Where(p => p.Stages.Contains(stage)).Sum(p => p.ShardElements);

    /// <summary>Per-rank elements of each phase unit on <paramref name="stage"/>, in order.</summary>
    public IReadOnlyList<(string Unit, long Elements)> UnitsOnStage(int stage) =>
        Parameters.Where(p => p.Stages.Contains(stage))
            .GroupBy(p => p.Unit)
            .Select(g => (g.Key, g.Sum(p => p.ShardElements)))
            .ToArray();
}
