namespace FlanT5.Poplar.Training;

/// <summary>
/// What one optimizer step reports. <see cref="Step"/> counts completed updates from 1 (the update computed with
/// learning rate <c>schedule.At(Step - 1)</c>); a skipped step (non-finite loss or gradients) has
/// <see cref="Skipped"/> set and changed no weights.
/// </summary>
public sealed record StepMetrics(
    int Step,
    int TotalSteps,
    double Loss,
    double LearningRate,
    double GradNorm,
    double LossScale,
    double SamplesPerSecond,
    double ElapsedSeconds,
    bool Skipped = false);

/// <summary>Receives step metrics as training runs (metrics files, progress display, tests).</summary>
public interface IStepObserver
{
    void OnStep(StepMetrics metrics);
}
