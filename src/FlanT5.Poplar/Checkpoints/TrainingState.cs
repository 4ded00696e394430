using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// Everything a training run needs to resume bit-identically. Tensors are read through <see cref="ITensorSource"/>
/// (host memory now, the device session later); the rest is small and opaque to this layer.
/// </summary>
public sealed record TrainingState
{
    /// <summary>Optimizer steps completed.</summary>
    public required long Step { get; init; }
    public required T5ModelConfig Config { get; init; }
    public required EmbeddingLayout Layout { get; init; }
    /// <summary>Session parameters under HF names (fp32).</summary>
    public required ITensorSource Weights { get; init; }
    /// <summary>AdamW first moment m, one tensor per parameter, same names.</summary>
    public required ITensorSource AdamFirstMoment { get; init; }
    /// <summary>AdamW second moment v, one tensor per parameter, same names.</summary>
    public required ITensorSource AdamSecondMoment { get; init; }
    /// <summary>Learning-rate schedule position (updates the schedule has seen).</summary>
    public long SchedulePosition { get; init; }
    /// <summary>Current loss scale (1 when loss scaling is off).</summary>
    public double LossScale { get; init; } = 1;
    /// <summary>Opaque cursor of the data pipeline (epoch, shuffle seed, offset …), serialized by its owner.</summary>
    public byte[] DataCursor { get; init; } = [];
    /// <summary>Opaque random-number-generator state, serialized by its owner.</summary>
    public byte[] RngState { get; init; } = [];
    /// <summary>The placement plan, serialized by its owner (JSON).</summary>
    public string Plan { get; init; } = "";
    /// <summary>The run configuration, serialized by its owner (JSON or YAML).</summary>
    public string RunConfig { get; init; } = "";
}
