namespace FlanT5.Poplar.Placement;

/// <summary>
/// The shape of a serving (weights-only) session: the rows decoded together (prompts × beams), the longest source a
/// row may have, the most target tokens a row may generate (the self-attention KV cache holds that many positions),
/// and the number format of weights, KV cache and activations. Defaults are the reference inference notebook's
/// (sequence_length 512, output_length 20), one row.
/// </summary>
public sealed record ServingShape
{
    public int Batch { get; init; } = 1;
    public int SourceLength { get; init; } = 512;
    public int TargetLength { get; init; } = 20;
    public NumericPrecision Precision { get; init; } = NumericPrecision.Fp16;

    /// <summary>Throws <see cref="InvalidPlanException"/> naming the first setting below 1.</summary>
    public void Validate()
    {
        if (Batch < 1) throw new InvalidPlanException("batch", $"{Batch}; expected >= 1");
        if (SourceLength < 1) throw new InvalidPlanException("max_source_length", $"{SourceLength}; expected >= 1");
        if (TargetLength < 1) throw new InvalidPlanException("max_target_length", $"{TargetLength}; expected >= 1");
    }

    /// <summary>The same rows as one forward pass of <paramref name="targetLength"/> decoder tokens (for the shared footprint and FLOP counts).</summary>
    public TrainingShape AsForwardPass(int targetLength) => new()
    {
        MicroBatch = Batch,
        GlobalBatch = Batch,
        SourceLength = SourceLength,
        TargetLength = targetLength,
        Precision = Precision,
    };
}
