namespace FlanT5.Poplar.Interop;

/// <summary>
/// One AdamW step as the host decides it (ft5_optimizer_step). A new instance holds the library's defaults
/// (step 1, lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay, grad scale 1, no clipping).
/// </summary>
public sealed record OptimizerStepSettings
{
    public unsafe OptimizerStepSettings()
    {
        ft5_optimizer_step s;
        Ft5Native.ft5_optimizer_step_init(&s);
        Step = (long)s.step;
        LearningRate = s.learning_rate;
        Beta1 = s.beta1;
        Beta2 = s.beta2;
        Eps = s.eps;
        WeightDecay = s.weight_decay;
        DecayAllParameters = s.decay_all_parameters != 0;
        GradScale = s.grad_scale;
        MaxGradNorm = s.max_grad_norm;
    }

    /// <summary>1-based step number, for bias correction.</summary>
    public long Step { get; init; }

    public float LearningRate { get; init; }
    public float Beta1 { get; init; }
    public float Beta2 { get; init; }
    public float Eps { get; init; }

    /// <summary>Decoupled weight decay; skipped for no-weight-decay parameters unless DecayAllParameters.</summary>
    public float WeightDecay { get; init; }

    public bool DecayAllParameters { get; init; }

    /// <summary>Accumulated gradients are divided by this first (micro-batches x loss scale).</summary>
    public float GradScale { get; init; }

    /// <summary>Global-norm clipping threshold on the unscaled gradient; 0 = no clipping.</summary>
    public float MaxGradNorm { get; init; }

    internal unsafe ft5_optimizer_step ToNative()
    {
        if (Step < 1) throw new ArgumentOutOfRangeException(nameof(Step), Step, "OptimizerStepSettings.Step is 1-based");
        ft5_optimizer_step s;
        Ft5Native.ft5_optimizer_step_init(&s);
        s.step = (ulong)Step;
        s.learning_rate = LearningRate;
        s.beta1 = Beta1;
        s.beta2 = Beta2;
        s.eps = Eps;
        s.weight_decay = WeightDecay;
        s.decay_all_parameters = DecayAllParameters ? 1 : 0;
        s.grad_scale = GradScale;
        s.max_grad_norm = MaxGradNorm;
        return s;
    }
}

/// <summary>What an optimizer step did.</summary>
/// <param name="GradNorm">Global L2 norm of the unscaled gradient before clipping.</param>
/// <param name="SkippedNonFinite">A gradient was NaN or infinite; nothing was updated.</param>
public sealed record StepResult(double GradNorm, bool SkippedNonFinite);

/// <summary>One session parameter under its Hugging Face name and shape.</summary>
/// <param name="Index">Position in the session's parameter table (the handle the ABI's tensor calls take).</param>
/// <param name="Name">The Hugging Face state-dict name, e.g. <c>encoder.block.0.layer.0.SelfAttention.q.weight</c>.</param>
/// <param name="Shape">The full (unsharded) shape.</param>
/// <param name="ShardCount">Tensor-parallel shards (1 when replicated).</param>
/// <param name="ShardDim">Dimension split across shards; -1 when replicated.</param>
/// <param name="PaddedDim">Length of ShardDim after padding to a multiple of the shard count; 0 when replicated.</param>
/// <param name="NoWeightDecay">Excluded from weight decay (norms and biases).</param>
public sealed record ParameterInfo(
    int Index, string Name, IReadOnlyList<long> Shape, int ShardCount, int ShardDim, long PaddedDim, bool NoWeightDecay)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
}
