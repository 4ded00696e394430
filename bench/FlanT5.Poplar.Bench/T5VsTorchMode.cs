using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FlanT5.Poplar.Benchmarks;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// <c>flant5 bench</c> (in this process) and <c>torch_t5.py bench</c> (a child process) with the same arguments, one
/// after the other in the same run; prints both JSON lines and ours/torch for the training step, greedy decoding per
/// token and peak memory.
/// </summary>
internal static class T5VsTorchMode
{
    private static readonly string[] Forwarded = ["preset", "batch", "src-len", "tgt-len", "steps", "warmup", "threads", "vocab", "dropout"];

    public static int Run(BenchOptions options)
    {
        var defaults = new T5BenchmarkOptions();
        var bench = new T5BenchmarkOptions
        {
            Preset = options.Get("preset") ?? defaults.Preset,
            Batch = options.Int("batch", defaults.Batch),
            SrcLen = options.Int("src-len", defaults.SrcLen),
            TgtLen = options.Int("tgt-len", defaults.TgtLen),
            Steps = options.Int("steps", defaults.Steps),
            Warmup = options.Int("warmup", defaults.Warmup),
            Threads = options.Int("threads", defaults.Threads),
            Vocab = options.Get("vocab") is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : null,
            Dropout = options.Get("dropout") is { } p ? double.Parse(p, CultureInfo.InvariantCulture) : 0,
        };
        bench.Validate();
        var script = Path.GetFullPath(options.Get("torch-script") ?? Path.Combine(RepoRoot(), "..", "shared", "bench", "torch_t5.py"));
        if (!File.Exists(script)) throw new FileNotFoundException($"torch_t5.py not found at {script}; pass --torch-script PATH", script);
        var python = options.Get("python") ?? "/usr/bin/python3";

        Console.WriteLine("== flant5 bench (this process, IPU emulator through the ABI)");
        var ours = T5Benchmark.Run(bench);
        ours.Write(Console.Out);
        var oursJson = ours.ToJson();

        Console.WriteLine($"== {python} {script} bench");
        var torchJson = RunTorch(python, script, bench);

        Console.WriteLine();
        Console.WriteLine("ours:  " + oursJson.ToJsonString());
        Console.WriteLine("torch: " + torchJson.ToJsonString());
        Ratio("train step time", oursJson, torchJson, "train_step_ms", TrainStepTarget);
        Ratio("greedy decoding per token", oursJson, torchJson, "decode_ms_per_token", DecodeTarget);
        Ratio("peak memory (RSS)", oursJson, torchJson, "peak_rss_mib", PeakRssTarget);

        // The step's matmul rate against OpenBLAS sgemm on this host, same threads, measured now.
        double flops = TrainingStepFlops.Of(bench.ModelConfig(), bench.Batch, bench.SrcLen, bench.TgtLen);
        double stepRate = flops / (ours.TrainStepMs * 1e-3) * 1e-9;
        double sgemm = SgemmRate.GflopsPerSecond(bench.Threads);
        double share = stepRate / sgemm;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"train step matmuls: {flops * 1e-9:F1} GFLOP, {stepRate:F1} GFLOP/s = {share:P1} of OpenBLAS sgemm " +
            $"({sgemm:F1} GFLOP/s, 2048^3, {bench.Threads} threads)  (target >= {SgemmShareTarget:P0}: " +
            $"{(share >= SgemmShareTarget ? "met" : "NOT met")})"));
        return 0;
    }

    private static JsonObject RunTorch(string python, string script, T5BenchmarkOptions bench)
    {
        // Through a small python that starts the script: Linux copies a forked process's peak RSS from its parent and
        // keeps it across exec, so a child of this (large) process would report our peak as its own ru_maxrss.
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))");
        start.ArgumentList.Add(python);
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("bench");
        foreach (var (name, value) in Arguments(bench))
        {
            start.ArgumentList.Add("--" + name);
            start.ArgumentList.Add(value);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
        string? last = null;
        while (process.StandardOutput.ReadLine() is { } line)
        {
            Console.WriteLine(line);
            if (line.Length > 0) last = line;
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || last is null)
            throw new InvalidOperationException($"{script} bench exited with {process.ExitCode}");
        return JsonNode.Parse(last)?.AsObject() ?? throw new InvalidDataException($"{script}: last line is not a JSON object: {last}");
    }

    private static IEnumerable<(string, string)> Arguments(T5BenchmarkOptions b)
    {
        var c = CultureInfo.InvariantCulture;
        string[] values =
        [
            b.Preset, b.Batch.ToString(c), b.SrcLen.ToString(c), b.TgtLen.ToString(c), b.Steps.ToString(c),
            b.Warmup.ToString(c), b.Threads.ToString(c), b.Vocab?.ToString(c) ?? "", b.Dropout.ToString("R", c),
        ];
        for (int i = 0; i < Forwarded.Length; i++)
            if (values[i].Length > 0) yield return (Forwarded[i], values[i]);
    }

    // The targets of the builder's acceptance (flan-t5-small, batch 8, 128 -> 8 tokens, 2 threads, one host).
    private const double TrainStepTarget = 0.85;
    private const double DecodeTarget = 0.8;
    private const double PeakRssTarget = 1.0;
    private const double SgemmShareTarget = 0.6;

    private static void Ratio(string what, JsonObject ours, JsonObject torch, string key, double target)
    {
        double a = (double)ours[key]!, b = (double)torch[key]!;
        double ratio = a / b;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what,-27} ours/torch = {a:F2} / {b:F2} = {ratio:F3}x  (target <= {target:F2}x: {(ratio <= target ? "met" : "NOT met")})"));
    }

    /// <summary>The directory holding FlanT5.Poplar.sln, above the working directory or this program.</summary>
    private static string RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "FlanT5.Poplar.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("FlanT5.Poplar.sln not found above the working directory; pass --torch-script PATH");
    }
}
