namespace FlanT5.Poplar.Placement;

/// <summary>
/// One parameter as the session exposes it (Hugging Face name and shape, the session parameter contract) and how
/// tensor parallelism splits it: <see cref="ShardCount"/> equal shards along <see cref="ShardDim"/> after padding that
/// dimension to <see cref="PaddedDim"/>; shard i lives on tp rank i. Matches ft5_param_info.
/// </summary>
public sealed record ParameterShard
{
    public required string Name { get; init; }

    /// <summary>Hugging Face shape, [out, in] for linear layers.</summary>
    public required IReadOnlyList<long> Shape { get; init; }

    /// <summary>Dimension split across tp ranks; -1 when every rank holds the whole tensor.</summary>
    public required int ShardDim { get; init; }

    /// <summary>Number of shards: the tensor-parallel degree, or 1 when replicated.</summary>
    public required int ShardCount { get; init; }

    /// <summary>Length of <see cref="ShardDim"/> after padding (the vocabulary); 0 when replicated.</summary>
    public required long PaddedDim { get; init; }

    /// <summary>Names containing "norm" or "bias" get no weight decay (the reference setup).</summary>
    public bool NoWeightDecay => Name.Contains("norm", StringComparison.Ordinal) || Name.Contains("bias", StringComparison.Ordinal);

    /// <summary>
    /// The unit loaded and updated together under phased execution: "embedding", "encoder.block.3",
    /// "encoder.final", "decoder.block.0", "lm_head" (the decoder final norm travels with the LM head).
    /// </summary>
    public required string Unit { get; init; }

    /// <summary>Pipeline stages holding a copy (a tied embedding lives on the first and the last stage).</summary>
    public required IReadOnlyList<int> Stages { get; init; }

    /// <summary>Elements of the whole (unpadded) tensor.</summary>
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Shape of the shard held by one tp rank.</summary>
    public IReadOnlyList<long> ShardShape
    {
        get
        {
            if (ShardDim < 0) return Shape;
            var shape = Shape.ToArray();
            shape[ShardDim] = PaddedDim / ShardCount;
            return shape;
        }
    }

    /// <summary>Elements held by one tp rank (padding included).</summary>
    public long ShardElements => ShardShape.Aggregate(1L, (a, b) => a * b);
}
