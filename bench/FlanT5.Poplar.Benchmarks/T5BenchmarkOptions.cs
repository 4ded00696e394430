using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Benchmarks;

/// <summary>
/// The arguments of <c>torch_t5.py bench</c>, with its defaults, so the two benchmarks run the same geometry.
/// </summary>
public sealed record T5BenchmarkOptions
{
    public static readonly IReadOnlyList<string> Presets = ["flan-t5-base", "flan-t5-small", "tiny"];

    public string Preset { get; init; } = "flan-t5-small";
    public int Batch { get; init; } = 8;
    public int SrcLen { get; init; } = 128;
    public int TgtLen { get; init; } = 8;
    public int Steps { get; init; } = 10;
    public int Warmup { get; init; } = 2;

    /// <summary>The emulated engine's host threads; torch_t5.py's default: $OPENBLAS_NUM_THREADS, else all cores.</summary>
    public int Threads { get; init; } = DefaultThreads();

    /// <summary>Overrides the preset's vocabulary size when set.</summary>
    public int? Vocab { get; init; }

    public double Dropout { get; init; }

    public static int DefaultThreads() =>
        int.TryParse(Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS"), out var n) && n > 0 ? n : Environment.ProcessorCount;

    /// <summary>The model config of the preset (torch_t5.py's PRESETS: gated-gelu, untied lm_head).</summary>
    public T5ModelConfig ModelConfig()
    {
        var config = Preset switch
        {
            "flan-t5-small" => T5ModelConfig.FlanT5("small"),
            "flan-t5-base" => T5ModelConfig.FlanT5("base"),
            "tiny" => new T5ModelConfig { VocabSize = 2176, DModel = 64, DKv = 16, DFf = 128, NumHeads = 4, NumLayers = 2, NumDecoderLayers = 2 },
            _ => throw new ArgumentException($"unknown preset '{Preset}'; expected {string.Join(", ", Presets)}"),
        };
        return config with { VocabSize = Vocab ?? config.VocabSize, DropoutRate = Dropout, TieWordEmbeddings = false };
    }

    public void Validate()
    {
        Require(Batch >= 1, "--batch", Batch, "at least 1");
        Require(SrcLen >= 1, "--src-len", SrcLen, "at least 1");
        Require(TgtLen >= 1, "--tgt-len", TgtLen, "at least 1");
        Require(Steps >= 1, "--steps", Steps, "at least 1");
        Require(Warmup >= 0, "--warmup", Warmup, "0 or more");
        Require(Threads >= 1, "--threads", Threads, "at least 1");
        Require(Vocab is null or >= 3, "--vocab", Vocab ?? 0, "at least 3 (ids are drawn from 2 .. vocab-1)");
        Require(Dropout is >= 0 and < 1, "--dropout", Dropout, "in [0, 1)");
        _ = ModelConfig();
    }

    private static void Require(bool ok, string name, object value, string expected)
    {
        if (!ok) throw new ArgumentException($"{name} is {value}; expected {expected}");
    }
}
