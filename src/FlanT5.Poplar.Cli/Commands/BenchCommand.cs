using System.CommandLine;
using FlanT5.Poplar.Benchmarks;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 bench</c>: the CPU timing of <c>torch_t5.py bench</c> (same options, same figures, the same JSON keys on the
/// last line) for this runtime on the IPU emulator, so benchmark suites can run the two side by side.
/// </summary>
internal static class BenchCommand
{
    internal static Command Create()
    {
        var defaults = new T5BenchmarkOptions();
        var preset = new Option<string>("--preset") { Description = "Model geometry", DefaultValueFactory = _ => defaults.Preset };
        preset.AcceptOnlyFromAmong([.. T5BenchmarkOptions.Presets]);
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => defaults.Batch };
        var srcLen = new Option<int>("--src-len") { Description = "Source tokens per row", DefaultValueFactory = _ => defaults.SrcLen };
        var tgtLen = new Option<int>("--tgt-len")
        {
            Description = "Target tokens per row (training) and new tokens generated",
            DefaultValueFactory = _ => defaults.TgtLen,
        };
        var steps = new Option<int>("--steps") { Description = "Timed repetitions (the median is reported)", DefaultValueFactory = _ => defaults.Steps };
        var warmup = new Option<int>("--warmup") { Description = "Untimed repetitions first", DefaultValueFactory = _ => defaults.Warmup };
        var threads = new Option<int>("--threads")
        {
            Description = "The emulated engine's host threads; default $OPENBLAS_NUM_THREADS, else all cores",
            DefaultValueFactory = _ => T5BenchmarkOptions.DefaultThreads(),
        };
        var vocab = new Option<int?>("--vocab") { Description = "Override the preset vocab size" };
        var dropout = new Option<double>("--dropout") { Description = "Dropout rate in training steps", DefaultValueFactory = _ => 0.0 };
        var command = new Command("bench",
            "CPU timing of one training step (forward + backward + AdamW) and of KV-cached greedy generation on random " +
            "weights; the figures and JSON keys of torch_t5.py bench")
        {
            preset, batch, srcLen, tgtLen, steps, warmup, threads, vocab, dropout,
        };
        command.SetAction(parse =>
        {
            var options = new T5BenchmarkOptions
            {
                Preset = parse.GetValue(preset)!,
                Batch = parse.GetValue(batch),
                SrcLen = parse.GetValue(srcLen),
                TgtLen = parse.GetValue(tgtLen),
                Steps = parse.GetValue(steps),
                Warmup = parse.GetValue(warmup),
                Threads = parse.GetValue(threads),
                Vocab = parse.GetValue(vocab),
                Dropout = parse.GetValue(dropout),
            };
            T5Benchmark.Run(options).Write(parse.InvocationConfiguration.Output);
            return ExitCodes.Success;
        });
        return command;
    }
}
