using System.CommandLine;
using System.Globalization;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Cli.Reporting;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Tokenization;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 activations</c>: each module's largest |activation| over a forward pass of the prompts, against fp16's
/// 65504, as a table and (--plot) a chart. In fp32 it shows how far past 65504 a module would go; in fp16 an
/// overflowing module reads 65504 (saturated). The decoder runs on the start token.
/// </summary>
internal static class ActivationsCommand
{
    internal static Command Create()
    {
        var model = new Option<string?>("--model", "-m")
        {
            Description = "Hugging Face T5 checkpoint directory; default: the default run's model.checkpoint",
        };
        var prompts = new Option<string[]>("--prompt", "-p")
        {
            Description = "A prompt (repeatable; default: read lines from stdin)",
            AllowMultipleArgumentsPerToken = false,
        };
        var plot = new Option<string?>("--plot") { Description = "Write the chart as a PNG here" };
        var placement = new ServingPlacementOptions();
        var command = new Command("activations",
            "Largest |activation| of every module over the prompts, against fp16's 65504 (a table, and --plot FILE.png)")
        {
            model, prompts, plot,
        };
        foreach (var option in placement.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var modelDir = parse.GetValue(model) ?? RunConfigOptions.LoadDefault().Config.Model.Checkpoint
                ?? throw new ArgumentException("no --model given and the default run config names no model.checkpoint");
            var texts = parse.GetValue(prompts) is { Length: > 0 } given ? given.ToList() : PromptInput.ReadLines(Console.In);
            if (texts.Count == 0) throw new ArgumentException("no prompts: pass --prompt TEXT or write prompts to standard input");
            var tokenizer = T5Tokenizer.FromDirectory(modelDir);
            using var checkpoint = HfCheckpointLoader.Open(modelDir);
            var options = placement.Read(parse) with { ActivationRanges = true };
            using var device = DeviceModel.Load(checkpoint, options);
            var ranges = Measure(device, tokenizer, texts);
            var output = parse.InvocationConfiguration.Output;
            Write(ranges, output);
            if (parse.GetValue(plot) is { } path)
            {
                ActivationRangePlot.Save(ranges, path,
                    $"{Path.GetFileName(Path.GetFullPath(modelDir))}, {(options.Precision == Configuration.Precision.Fp16 ? "fp16" : "fp32")}: largest |activation| per module");
                output.WriteLine($"plot: {path}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The ranges of one forward pass of <paramref name="texts"/>, the decoder on its start token.</summary>
    internal static IReadOnlyList<ActivationRange> Measure(DeviceModel device, T5Tokenizer tokenizer, IReadOnlyList<string> texts)
    {
        var encoded = tokenizer.EncodeBatch(texts, PaddingOptions.Longest());
        var start = Enumerable.Repeat(device.Config.DecoderStartTokenId, encoded.Rows).ToArray();
        var batch = new TokenBatch(encoded.Rows, encoded.Length, 1, encoded.InputIds, start, encoded.AttentionMask);
        device.Session.Forward(batch);
        return device.Session.ActivationRanges();
    }

    internal static void Write(IReadOnlyList<ActivationRange> ranges, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        int width = Math.Max(6, ranges.Max(r => r.Module.Length));
        output.WriteLine($"{"module".PadRight(width)}  {"max |x|",12}  {"of 65504",9}");
        foreach (var r in ranges)
        {
            output.WriteLine(string.Create(inv, $"{r.Module.PadRight(width)}  {r.MaxAbs,12:G6}  {100 * r.OfHalfMax,8:0.00}%") +
                             (r.MaxAbs >= ActivationRange.HalfMax ? "  overflows fp16" : ""));
        }
        var peak = ranges.MaxBy(r => r.MaxAbs);
        output.WriteLine(string.Create(inv, $"largest: {peak.Module} {peak.MaxAbs:G6} ({100 * peak.OfHalfMax:0.00} % of fp16's 65504); ") +
                         $"{ranges.Count(r => r.MaxAbs >= ActivationRange.HalfMax)} of {ranges.Count} modules reach it");
    }
}
