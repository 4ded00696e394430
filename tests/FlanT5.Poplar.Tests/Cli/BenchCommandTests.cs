using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Tests.Cli;

public class BenchCommandTests
{
    // The keys of the JSON line `torch_t5.py bench` prints, in its order.
    private static readonly string[] TorchKeys =
    [
        "impl", "torch", "preset", "params", "vocab", "batch", "src_len", "tgt_len", "steps", "warmup", "dropout",
        "host_cpus", "threads", "openblas_threads", "omp_wait_policy", "train_step_ms", "train_tokens_per_s",
        "generate_ms", "generate_tokens_per_s", "encode_ms", "decode_ms_per_token", "peak_rss_mib",
    ];

    [Test]
    public void TinyPresetPrintsTheFiguresAndAJsonLineWithTorchT5Keys()
    {
        var result = CliRunner.Run("bench", "--preset", "tiny", "--batch", "2", "--src-len", "16", "--tgt-len", "4",
            "--steps", "1", "--warmup", "0", "--threads", "1");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.Error + result.Output);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith("preset tiny: ").And.Contain("vocab 2176, batch 2, src 16, tgt 4, threads 1"));
        Assert.That(lines[1], Does.StartWith("train step (fwd+bwd+AdamW): median "));
        Assert.That(lines[2], Does.StartWith("greedy generate 4 tokens (KV cache): median ").And.Contain("encoder alone"));
        Assert.That(lines[3], Does.Match(@"^peak RSS \d+\.\d MiB$"));

        var json = JsonNode.Parse(lines[^1])!.AsObject();
        Assert.That(json.Select(kv => kv.Key), Is.EqualTo(TorchKeys));
        Assert.That((string?)json["preset"], Is.EqualTo("tiny"));
        // The tiny geometry: shared [2176,64] + lm_head [2176,64] + 2+2 gated-gelu blocks + norms + 2 relative biases.
        Assert.That((long)json["params"]!, Is.EqualTo(ExpectedTinyParameters()));
        Assert.That((int)json["threads"]!, Is.EqualTo(1));
        foreach (var key in new[] { "train_step_ms", "generate_ms", "peak_rss_mib" })
            Assert.That((double)json[key]!, Is.GreaterThan(0), key);
        // encode_ms is derived from two timings (see T5Benchmark.Run); one untimed-warmup step may make it noisy.
        Assert.That(double.IsFinite((double)json["encode_ms"]!));
        Assert.That((double)json["decode_ms_per_token"]!,
            Is.EqualTo(((double)json["generate_ms"]! - (double)json["encode_ms"]!) / 4).Within(0.01));
    }

    [Test]
    public void RejectsAnUnknownPreset()
    {
        var result = CliRunner.Run("bench", "--preset", "flan-t5-huge");
        Assert.That(result.ExitCode, Is.Not.EqualTo(0));
        Assert.That(result.Error + result.Output, Does.Contain("flan-t5-huge"));
    }

    private static long ExpectedTinyParameters()
    {
        const long v = 2176, d = 64, inner = 4 * 16, ff = 128, buckets = 32, heads = 4;
        long attention = 4 * inner * d, ffn = 3 * ff * d;
        long encoder = 2 * (attention + ffn + 2 * d) + d + buckets * heads;
        long decoder = 2 * (2 * attention + ffn + 3 * d) + d + buckets * heads;
        return 2 * v * d + encoder + decoder;
    }
}
