using System.Globalization;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>The one-line text of a training step: step, loss, lr, grad norm, loss scale, throughput, elapsed, ETA.</summary>
internal static class ProgressLine
{
    public static string Format(StepMetrics m)
    {
        var inv = CultureInfo.InvariantCulture;
        var eta = Eta(m);
        return string.Create(inv,
            $"step {m.Step}/{m.TotalSteps}  loss {m.Loss:F4}  lr {m.LearningRate:0.00e+00}  grad {m.GradNorm:F3}  " +
            $"scale {m.LossScale:G6}  {m.SamplesPerSecond:F1} samples/s  elapsed {Clock(m.ElapsedSeconds)}" +
            $"  eta {(eta is { } s ? Clock(s) : "--:--:--")}{(m.Skipped ? "  SKIPPED (non-finite)" : "")}");
    }

    /// <summary>Seconds left at the mean pace so far; null before the first step.</summary>
    public static double? Eta(StepMetrics m) =>
        m.Step <= 0 || m.TotalSteps <= 0 || !(m.ElapsedSeconds >= 0) ? null
        : m.ElapsedSeconds / m.Step * Math.Max(0, m.TotalSteps - m.Step);

    public static string Clock(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Round(seconds)));
        return $"{(int)t.TotalHours:00}:{t.Minutes:00}:{t.Seconds:00}";
    }
}
