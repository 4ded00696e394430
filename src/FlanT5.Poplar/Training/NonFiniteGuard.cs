namespace FlanT5.Poplar.Training;

/// <summary>
/// Bookkeeping for steps whose loss or gradient norm was not finite: they are skipped (no update), counted and
/// reported; too many in a row means training has diverged, which is an error rather than a silent stall.
/// </summary>
public sealed class NonFiniteGuard
{
    private readonly List<SkippedStep> _skipped = [];

    /// <param name="maxConsecutive">Consecutive skipped steps tolerated before <see cref="Record"/> throws.</param>
    public NonFiniteGuard(int maxConsecutive = 25)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConsecutive, 1);
        MaxConsecutive = maxConsecutive;
    }

    public int MaxConsecutive { get; }

    /// <summary>Every skipped step, in order.</summary>
    public IReadOnlyList<SkippedStep> Skipped => _skipped;

    public int SkippedCount => _skipped.Count;

    public int ConsecutiveSkipped { get; private set; }

    /// <summary>Steps recorded, skipped or not.</summary>
    public int StepsSeen { get; private set; }

    /// <summary>
    /// Records a step; returns true when its update may be applied. <paramref name="lossScale"/> is reported so a
    /// skipped step under dynamic loss scaling reads as an expected overflow.
    /// </summary>
    public bool Record(int step, double loss, double gradNorm, double lossScale)
    {
        StepsSeen++;
        if (double.IsFinite(loss) && double.IsFinite(gradNorm))
        {
            ConsecutiveSkipped = 0;
            return true;
        }
        _skipped.Add(new SkippedStep(step, loss, gradNorm, lossScale));
        ConsecutiveSkipped++;
        if (ConsecutiveSkipped >= MaxConsecutive)
        {
            throw new TrainingDivergedException(
                $"training diverged: {ConsecutiveSkipped} steps in a row (up to step {step}) had a non-finite " +
                $"loss or gradient norm (last loss {loss}, grad norm {gradNorm}, loss scale {lossScale}); " +
                "lower the learning rate, use fp32, or enable dynamic loss scaling");
        }
        return false;
    }

    /// <summary>One line for logs and the run summary.</summary>
    public string Summary() => SkippedCount == 0
        ? $"no skipped steps in {StepsSeen}"
        : $"{SkippedCount} of {StepsSeen} steps skipped (non-finite loss or gradients): steps {string.Join(", ", _skipped.Take(10).Select(s => s.Step))}{(SkippedCount > 10 ? ", ..." : "")}";
}

/// <summary>Too many consecutive steps had a non-finite loss or gradients: the run cannot make progress.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>A step that was not applied.</summary>
public sealed record SkippedStep(int Step, double Loss, double GradNorm, double LossScale);
