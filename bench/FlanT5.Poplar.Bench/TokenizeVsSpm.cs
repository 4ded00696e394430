using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using FlanT5.Poplar.Data;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// <c>tokenize-vs-spm</c>: tokenizes the MNLI prompts of a GLUE TSV file (392,702 synthetic pairs by default) with
/// <see cref="T5Tokenizer"/> on every core and with sentencepiece's own <c>spm_encode</c> in the same run, checks
/// that both give the same ids, and prints both throughputs in pairs/s; then times the whole data pipeline
/// (tokenize + pad + labels through <see cref="DataLoader"/>'s prefetching producer).
/// </summary>
internal static class TokenizeVsSpm
{
    public static int Run(string[] args)
    {
        string model = Arg(args, "--model") ?? FindUp("samples/models/flan-t5-tiny");
        int rows = int.Parse(Arg(args, "--rows") ?? "392702");
        string file = Arg(args, "--file") ?? Path.Combine(Path.GetTempPath(), $"flant5-synthetic-mnli-{rows}.tsv");
        int repeats = int.Parse(Arg(args, "--repeats") ?? "3");
        string spm = Arg(args, "--spm-encode") ?? "/usr/bin/spm_encode";

        if (!File.Exists(file))
        {
            var sw = Stopwatch.StartNew();
            SyntheticMnliFile.Write(file, rows, seed: 47);
            Console.WriteLine($"synthesized {rows} pairs into {file} in {sw.Elapsed.TotalSeconds:F1} s");
        }

        var read = Stopwatch.StartNew();
        var data = new GlueTsvReader().Read(file);
        var examples = data.Examples.Select(PromptTemplate.Mnli.Format).ToArray();
        read.Stop();
        var prompts = examples.Select(e => e.Source).ToArray();
        Console.WriteLine($"read + prompted {prompts.Length} pairs in {read.Elapsed.TotalSeconds:F2} s ({prompts.Length / read.Elapsed.TotalSeconds:F0} pairs/s)");

        var tokenizer = T5Tokenizer.FromDirectory(model);
        string promptFile = Path.GetTempFileName();
        File.WriteAllLines(promptFile, prompts, new UTF8Encoding(false));
        int cores = Environment.ProcessorCount;
        Console.WriteLine($"model {model}, {cores} cores, {repeats} repeats (best of)");

        // Warm up (JIT, tiered compilation) on a slice.
        Parallel.For(0, Math.Min(prompts.Length, 20000), i => tokenizer.Encode(prompts[i]));

        double spmBest = double.MaxValue, oursBest = double.MaxValue, oneBest = double.MaxValue, pipelineBest = double.MaxValue;
        string spmOutput = Path.GetTempFileName();
        int[][] ours = new int[prompts.Length][];
        for (int r = 0; r < repeats; r++)
        {
            spmBest = Math.Min(spmBest, TimeSpm(spm, Path.Combine(model, "spiece.model"), promptFile, spmOutput));

            var sw = Stopwatch.StartNew();
            // Ranges of 4096 prompts per work item keep scheduling overhead out of the measurement.
            Parallel.ForEach(Partitioner.Create(0, prompts.Length, 4096), new ParallelOptions { MaxDegreeOfParallelism = cores }, range =>
            {
                for (int i = range.Item1; i < range.Item2; i++) ours[i] = tokenizer.Encode(prompts[i]);
            });
            oursBest = Math.Min(oursBest, sw.Elapsed.TotalSeconds);

            sw.Restart();
            for (int i = 0; i < prompts.Length; i++) tokenizer.Encode(prompts[i]);
            oneBest = Math.Min(oneBest, sw.Elapsed.TotalSeconds);

            pipelineBest = Math.Min(pipelineBest, TimePipeline(examples, tokenizer, cores));
        }

        double scaling = ControlScaling(cores);
        int mismatches = CompareWithSpm(spmOutput, ours, tokenizer.EosId);
        File.Delete(promptFile);
        File.Delete(spmOutput);

        double n = prompts.Length;
        Console.WriteLine();
        Console.WriteLine($"spm_encode (1 process)                 : {n / spmBest,10:F0} pairs/s  ({spmBest:F2} s)");
        Console.WriteLine($"T5Tokenizer, {cores} threads                 : {n / oursBest,10:F0} pairs/s  ({oursBest:F2} s)  = {spmBest / oursBest:F2}× spm_encode");
        Console.WriteLine($"T5Tokenizer, 1 thread                  : {n / oneBest,10:F0} pairs/s  ({oneBest:F2} s)  = {spmBest / oneBest:F2}× spm_encode");
        Console.WriteLine($"DataLoader epoch (tokenize+batch 128)  : {n / pipelineBest,10:F0} pairs/s  ({pipelineBest:F2} s)  = {spmBest / pipelineBest:F2}× spm_encode");
        Console.WriteLine($"control: pure-CPU loop speed-up on {cores} threads vs 1: {scaling:F2}× (below {cores} means other processes share the cores)");
        Console.WriteLine($"ids identical to spm_encode + eos      : {(mismatches == 0 ? "yes" : $"NO, {mismatches} rows differ")} ({prompts.Length} prompts)");
        return mismatches == 0 ? 0 : 1;
    }

    /// <summary>How much faster a fixed arithmetic workload runs on <paramref name="cores"/> threads than on one.</summary>
    private static double ControlScaling(int cores)
    {
        static double Work(int iterations)
        {
            double x = 1;
            for (int i = 0; i < iterations; i++) x = x * 1.0000001 + 1e-9;
            return x;
        }
        const int perThread = 200_000_000;
        var sw = Stopwatch.StartNew();
        Work(perThread);
        double one = sw.Elapsed.TotalSeconds;
        sw.Restart();
        Parallel.For(0, cores, new ParallelOptions { MaxDegreeOfParallelism = cores }, _ => Work(perThread));
        double many = sw.Elapsed.TotalSeconds;
        return one * cores / many;
    }

    private static double TimeSpm(string spm, string spieceModel, string input, string output)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"exec \"{spm}\" --model \"{spieceModel}\" --output_format=id < \"{input}\" > \"{output}\""]);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {spm}");
        p.WaitForExit();
        double seconds = sw.Elapsed.TotalSeconds;
        if (p.ExitCode != 0) throw new InvalidOperationException($"{spm} failed with exit code {p.ExitCode}");
        return seconds;
    }

    private static double TimePipeline(Seq2SeqExample[] examples, T5Tokenizer tokenizer, int cores)
    {
        var loader = new DataLoader(examples, tokenizer, new DataLoaderOptions { BatchSize = 128, Seed = 47, TokenizerThreads = cores });
        var sw = Stopwatch.StartNew();
        long rows = 0;
        var task = Task.Run(async () =>
        {
            await foreach (var batch in loader.ReadAsync(null, loader.BatchesPerEpoch)) rows += batch.Rows;
        });
        task.GetAwaiter().GetResult();
        double seconds = sw.Elapsed.TotalSeconds;
        // Drop-last leaves out fewer than one batch; scale to the whole file so the numbers compare.
        return seconds * examples.Length / rows;
    }

    private static int CompareWithSpm(string spmOutput, int[][] ours, int eos)
    {
        int mismatches = 0, i = 0;
        foreach (var line in File.ReadLines(spmOutput))
        {
            var expected = line.Length == 0 ? [] : line.Split(' ').Select(int.Parse).Append(eos).ToArray();
            if (i >= ours.Length || !expected.AsSpan().SequenceEqual(ours[i]))
            {
                if (mismatches++ < 3) Console.WriteLine($"row {i} differs: spm {line} / ours {(i < ours.Length ? string.Join(' ', ours[i]) : "-")}");
            }
            i++;
        }
        return mismatches + Math.Abs(ours.Length - i);
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"cannot find {relative} above {AppContext.BaseDirectory}; pass --model DIR");
    }
}
