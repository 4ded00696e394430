using FlanT5.Poplar.Interop;
using ScottPlot;

namespace FlanT5.Poplar.Cli.Reporting;

/// <summary>
/// activations.png: each module's largest |activation| as a bar, in the model's order, on a log scale (the values span
/// orders of magnitude), with fp16's 65504 as a red line: a bar that crosses it overflows in fp16.
/// </summary>
internal static class ActivationRangePlot
{
    public static void Save(IReadOnlyList<ActivationRange> ranges, string path, string title, int width = 1200, int height = 600)
    {
        if (ranges.Count == 0) throw new ArgumentException("no activation ranges to plot");
        var plot = new Plot();
        var floor = Math.Log10(Math.Max(1e-3, ranges.Where(r => r.MaxAbs > 0).Select(r => (double)r.MaxAbs).DefaultIfEmpty(1).Min())) - 0.5;
        var bars = ranges.Select((r, i) => new Bar
        {
            Position = i,
            ValueBase = floor,
            Value = r.MaxAbs > 0 ? Math.Log10(r.MaxAbs) : floor,
            FillColor = r.MaxAbs >= ActivationRange.HalfMax ? Colors.Red : Colors.SteelBlue,
        }).ToList();
        plot.Add.Bars(bars);
        var limit = plot.Add.HorizontalLine(Math.Log10(ActivationRange.HalfMax));
        limit.Color = Colors.Red;
        limit.LinePattern = LinePattern.Dashed;
        limit.LegendText = "fp16 max 65504";
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
        };
        var ticks = ranges.Select((r, i) => new Tick(i, Short(r.Module))).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 130;
        plot.Title(title);
        plot.YLabel("largest |activation| (log scale)");
        plot.ShowLegend();
        FlanT5.Poplar.Files.AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));
    }

    // "encoder.block.1.layer.1.DenseReluDense.wo" → "enc 1 ff wo": the axis has room for little
    private static string Short(string module) => module
        .Replace("encoder.", "enc ").Replace("decoder.", "dec ").Replace("block.", "").Replace(".layer.", " L")
        .Replace(".DenseReluDense.", " ").Replace(".SelfAttention", " self").Replace(".EncDecAttention", " cross")
        .Replace("embed_tokens", "embed").Replace("final_layer_norm", "final norm");
}
