using BenchmarkDotNet.Running;

namespace FlanT5.Poplar.Bench;

internal static class Program
{
    private static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "";
        if (mode == "tokenize-vs-spm") return TokenizeVsSpm.Run(args[1..]);
        if (mode.StartsWith("--", StringComparison.Ordinal))
        {
            // BenchmarkDotNet micro-benchmarks, e.g. --filter *Tokenizer*
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
            return 0;
        }
        var options = BenchOptions.Parse(args.Skip(1).ToArray());
        switch (mode)
        {
            case "checkpoint-generate": return CheckpointGenerateMode.Run(options);
            case "checkpoint-stream": return CheckpointStreamMode.Run(options);
            case "safetensors-fuzz": return SafetensorsFuzzMode.Run(options);
            case "t5-vs-torch": return T5VsTorchMode.Run(options);
            default:
                Console.Error.WriteLine("""
                    usage: FlanT5.Poplar.Bench <mode> [--option value …]
                      tokenize-vs-spm [--rows N] [--file F] [--model DIR] [--repeats R]
                          tokenizer + batching throughput beside sentencepiece's spm_encode on the same prompts
                      --filter PATTERN
                          BenchmarkDotNet micro-benchmarks
                      checkpoint-generate --dir DIR [--size xl] [--max-shard-size 5GB] [--seed 1]
                          synthetic random bf16 Flan-T5 checkpoint in the hub layout (sharded, index listing the aliases)
                      checkpoint-stream --dir DIR [--tp 8] [--output DIR] [--request-mib 8] [--in-flight 4] [--buffers 3] [--threads CPUs-1] [--rounds 5]
                          HF → tensor-parallel layout → HF, streaming, verified bit-exact; peak RSS and throughput
                          against the disk's sequential read speed measured in the same run
                      safetensors-fuzz [--cases 100000] [--seed 1]
                          random mutations of a valid file through the reader; only InvalidDataException is allowed
                      t5-vs-torch [--preset flan-t5-small] [--batch 8] [--src-len 128] [--tgt-len 8] [--steps 10]
                                  [--warmup 2] [--threads N] [--vocab V] [--dropout P] [--torch-script PATH] [--python EXE]
                          flant5 bench here, then torch_t5.py bench (default ../shared/bench/torch_t5.py from the repo
                          root) with the same arguments; both JSON lines and ours/torch for train step, decode/token, RSS
                    """);
                return 2;
        }
    }
}

/// <summary>--name value pairs.</summary>
internal sealed class BenchOptions
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            options._values[args[i][2..]] = args[++i];
        }
        return options;
    }

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Require(string name) => Get(name) ?? throw new ArgumentException($"--{name} is required");

    public int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Process memory (on Linux .NET reads both from /proc/self/status).</summary>
internal static class ProcessMemory
{
    /// <summary>Peak resident set (VmHWM) in bytes.</summary>
    public static long PeakResidentBytes()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }
}
