using System.Globalization;
using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Benchmarks;

/// <summary>The figures of one benchmark run; times are medians over the timed steps, in milliseconds.</summary>
public sealed record T5BenchmarkResult(
    T5BenchmarkOptions Options, long Parameters, int VocabSize, int HostCpus, int Threads,
    double TrainStepMs, double GenerateMs, double EncodeMs, double PeakRssMib)
{
    public double TrainTokensPerSecond => Options.Batch * (Options.SrcLen + Options.TgtLen) / TrainStepMs * 1e3;
    public double GenerateTokensPerSecond => Options.Batch * Options.TgtLen / GenerateMs * 1e3;

    /// <summary>torch_t5.py's definition: (generate − encoder) / new tokens.</summary>
    public double DecodeMsPerToken => (GenerateMs - EncodeMs) / Options.TgtLen;

    /// <summary>The lines torch_t5.py bench prints, ending with the JSON line (same keys, same order).</summary>
    public void Write(TextWriter output)
    {
        var o = Options;
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"preset {o.Preset}: {Parameters / 1e6:F2}M params, vocab {VocabSize}, batch {o.Batch}, src {o.SrcLen}, tgt {o.TgtLen}, threads {Threads} (the engine's host threads, OpenBLAS 1 in each)"));
        output.WriteLine(string.Create(c, $"train step (fwd+bwd+AdamW): median {TrainStepMs:F2} ms  ({TrainTokensPerSecond:F1} src+tgt tokens/s)"));
        output.WriteLine(string.Create(c, $"greedy generate {o.TgtLen} tokens (KV cache): median {GenerateMs:F2} ms  ({GenerateTokensPerSecond:F1} new tokens/s; encoder alone {EncodeMs:F2} ms)"));
        output.WriteLine(string.Create(c, $"peak RSS {PeakRssMib:F1} MiB"));
        output.WriteLine(ToJson().ToJsonString());
    }

    public JsonObject ToJson() => new()
    {
        ["impl"] = "flant5",
        ["torch"] = null, // no torch here; the key stays so both lines have the same keys
        ["preset"] = Options.Preset,
        ["params"] = Parameters,
        ["vocab"] = VocabSize,
        ["batch"] = Options.Batch,
        ["src_len"] = Options.SrcLen,
        ["tgt_len"] = Options.TgtLen,
        ["steps"] = Options.Steps,
        ["warmup"] = Options.Warmup,
        ["dropout"] = Options.Dropout,
        ["host_cpus"] = HostCpus,
        ["threads"] = Threads,
        ["openblas_threads"] = 1, // the engine splits its kernels over its host threads, one OpenBLAS thread each
        ["omp_wait_policy"] = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
        ["train_step_ms"] = Math.Round(TrainStepMs, 2),
        ["train_tokens_per_s"] = Math.Round(TrainTokensPerSecond, 1),
        ["generate_ms"] = Math.Round(GenerateMs, 2),
        ["generate_tokens_per_s"] = Math.Round(GenerateTokensPerSecond, 1),
        ["encode_ms"] = Math.Round(EncodeMs, 2),
        ["decode_ms_per_token"] = Math.Round(DecodeMsPerToken, 2),
        ["peak_rss_mib"] = Math.Round(PeakRssMib, 1),
    };
}
