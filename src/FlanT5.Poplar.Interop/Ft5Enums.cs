namespace FlanT5.Poplar.Interop;

// The public faces of the ABI's enums: same values as the generated ft5_* enums (a test holds them equal), names
// that read well in C#.

/// <summary>ft5_backend.</summary>
public enum IpuBackend
{
    /// <summary>The emulated Poplar SDK: a CPU model of IPUs running the real arithmetic (libft5's default build).</summary>
    Emulator = 0,

    /// <summary>IPU hardware through the Poplar SDK; in libft5 built against the SDK.</summary>
    Poplar = 1,

    /// <summary>The Poplar SDK's IPUModel (no hardware); in libft5 built against the SDK.</summary>
    IpuModel = 2,
}

/// <summary>ft5_dtype.</summary>
public enum TensorDataType
{
    Float32 = 0,
    Float16 = 1,
    BFloat16 = 2,
    Int32 = 3,
}

/// <summary>ft5_memory_location.</summary>
public enum MemoryLocation
{
    /// <summary>Tile memory of one IPU.</summary>
    OnChip = 0,

    /// <summary>Streaming memory (remote buffers) attached to the IPU.</summary>
    Streaming = 1,
}

/// <summary>ft5_ffn_kind.</summary>
public enum FeedForwardKind
{
    /// <summary>gelu_new(x W_0) * (x W_1), then W_o (T5 v1.1, Flan-T5).</summary>
    GatedGelu = 0,

    /// <summary>relu(x W_i), then W_o (original T5).</summary>
    Relu = 1,
}

/// <summary>ft5_embedding_layout.</summary>
public enum EmbeddingLayout
{
    /// <summary>One "shared.weight" for encoder and decoder.</summary>
    Shared = 0,

    /// <summary>Distinct "encoder.embed_tokens.weight" and "decoder.embed_tokens.weight".</summary>
    Separate = 1,
}

/// <summary>ft5_fp16_mitigation: the changes that keep a bfloat16-trained T5 within fp16's range, each a bit.</summary>
[Flags]
public enum HalfMitigations : uint
{
    None = 0,
    /// <summary>The feed-forward's wo multiplies in fp32 (Hugging Face's keep-in-fp32).</summary>
    WoFp32 = 1,
    /// <summary>wo multiplies its input / 8 in fp16, its fp32 output × 8 (optimum-graphcore).</summary>
    WoScaled = 2,
    /// <summary>The residual stream in fp32; each layer norm gives fp16.</summary>
    ResidualFp32 = 4,
    /// <summary>Each residual add clamps to ±(65504 − 1000).</summary>
    Clamp = 8,
    /// <summary>The attention masks' minimum × 0.75.</summary>
    MaskScaled = 16,
    /// <summary>gelu only on −39 &lt; x &lt; 39, relu outside.</summary>
    GeluLimited = 32,
}

/// <summary>ft5_pipeline_schedule.</summary>
public enum PipelineSchedule
{
    GPipe = 0,
    OneForwardOneBackward = 1,
}

/// <summary>ft5_param_slot: which per-parameter buffer a read or write addresses.</summary>
public enum ParameterSlot
{
    Weight = 0,

    /// <summary>The accumulated gradient (read only).</summary>
    Gradient = 1,

    /// <summary>AdamW first moment.</summary>
    AdamM = 2,

    /// <summary>AdamW second moment.</summary>
    AdamV = 3,
}

internal static class TensorDataTypeExtensions
{
    public static int ElementSize(this TensorDataType type) => type switch
    {
        TensorDataType.Float32 or TensorDataType.Int32 => 4,
        TensorDataType.Float16 or TensorDataType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a known tensor data type"),
    };
}

/// <summary>ft5_program_kind: what a prepared program set runs.</summary>
public enum ProgramKind
{
    /// <summary>Forward and forward-backward passes of a batch.</summary>
    Batch = 0,

    /// <summary>Cached decoding: rows of a source length, with room for a number of steps.</summary>
    Decode = 1,
}
