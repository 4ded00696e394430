using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Training;

/// <summary>
/// Learning rate per optimizer update (<c>step</c> counts updates from 0). Every schedule warms up as the reference
/// does — <c>linspace(warmup_start, maximum, warmup_steps + 1)[step]</c>, so step 0 uses warmup_start and step
/// warmup_steps reaches the maximum exactly — then stays constant (the reference), decays linearly to 0, or follows
/// half a cosine to 0 at <c>total_steps</c>.
/// </summary>
public sealed class LearningRateSchedule
{
    public LearningRateSchedule(LearningRateScheduleKind kind, double maximum, int warmupSteps, double warmupStart, int totalSteps)
    {
        if (!(maximum > 0) || !double.IsFinite(maximum))
            throw new ArgumentException($"maximum learning rate is {maximum}; expected a finite value > 0", nameof(maximum));
        if (warmupSteps < 0)
            throw new ArgumentException($"warmup steps is {warmupSteps}; expected >= 0", nameof(warmupSteps));
        if (totalSteps < 1 || warmupSteps > totalSteps)
            throw new ArgumentException($"total steps is {totalSteps}; expected >= 1 and >= warmup steps ({warmupSteps})", nameof(totalSteps));
        if (warmupStart < 0 || warmupStart > maximum)
            throw new ArgumentException($"warmup start is {warmupStart}; expected 0 <= start <= maximum ({maximum})", nameof(warmupStart));
        Kind = kind;
        Maximum = maximum;
        WarmupSteps = warmupSteps;
        WarmupStart = warmupStart;
        TotalSteps = totalSteps;
    }

    public static LearningRateSchedule FromConfig(TrainingSection training) => new(
        training.LearningRate.Schedule, training.LearningRate.Maximum, training.LearningRate.WarmupSteps,
        training.LearningRate.WarmupStart, training.Steps);

    public LearningRateScheduleKind Kind { get; }
    public double Maximum { get; }
    public int WarmupSteps { get; }
    public double WarmupStart { get; }
    public int TotalSteps { get; }

    /// <summary>The learning rate of update <paramref name="step"/> (0-based); steps past the end keep the last value.</summary>
    public double At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps)
        {
            // numpy.linspace: start + i * ((stop - start) / (num - 1)), same operation order, so values match bit for bit.
            return step * ((Maximum - WarmupStart) / WarmupSteps) + WarmupStart;
        }
        if (Kind == LearningRateScheduleKind.ConstantAfterWarmup || TotalSteps == WarmupSteps) return Maximum;
        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return Kind switch
        {
            LearningRateScheduleKind.Linear => Maximum * (1.0 - progress),
            LearningRateScheduleKind.Cosine => Maximum * 0.5 * (1.0 + Math.Cos(Math.PI * progress)),
            _ => throw new InvalidOperationException($"unknown schedule {Kind}"),
        };
    }

    /// <summary>The learning rate as the device receives it (the reference casts to float32).</summary>
    public float AtSingle(int step) => (float)At(step);
}
