using FlanT5.Poplar.Training;
using ScottPlot;

namespace FlanT5.Poplar.Cli.Reporting;

/// <summary>
/// loss.png: training loss per step (skipped, non-finite steps left out). The loss of a fine-tuning run falls over
/// orders of magnitude (26 → 1e-4 on the tiny run), so the y axis is logarithmic when the range exceeds 100×.
/// Rendered with ScottPlot 5 (SkiaSharp), which needs no display.
/// </summary>
internal static class LossCurvePlot
{
    /// <summary>Writes the plot; false (and nothing written) when no step has a finite loss.</summary>
    public static bool Save(IReadOnlyList<StepMetrics> metrics, string path, string title, int width = 900, int height = 500)
    {
        var points = metrics.Where(m => !m.Skipped && double.IsFinite(m.Loss)).ToList();
        if (points.Count == 0) return false;
        var xs = points.Select(m => (double)m.Step).ToArray();
        var losses = points.Select(m => m.Loss).ToArray();
        var logScale = losses.All(l => l > 0) && losses.Max() / losses.Min() > 100;

        var plot = new Plot();
        var ys = logScale ? losses.Select(Math.Log10).ToArray() : losses;
        var line = plot.Add.ScatterLine(xs, ys);
        line.LegendText = "training loss";
        line.LineWidth = 1.5f;
        if (logScale)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => Math.Pow(10, y).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
            };
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(logScale ? "loss (log scale)" : "loss");
        FlanT5.Poplar.Files.AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));
        return true;
    }
}
