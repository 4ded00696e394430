using FlanT5.Poplar.Training;
using Spectre.Console;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>
/// Shows training progress: on an interactive terminal a Spectre.Console progress bar whose description carries
/// loss, lr and throughput (with its ETA column); when output is redirected (CI, a log file) plain lines, one
/// every <c>plainEvery</c> steps plus the first and the last, so logs stay readable.
/// </summary>
internal sealed class TrainingProgressDisplay
{
    private readonly TextWriter _output;
    private readonly bool _interactive;
    private readonly int _plainEvery;

    public TrainingProgressDisplay(TextWriter output, bool interactive, int plainEvery = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(plainEvery, 1);
        _output = output;
        _interactive = interactive;
        _plainEvery = plainEvery;
    }

    /// <summary>Interactive when stdout is a terminal and no CI environment is detected.</summary>
    public static TrainingProgressDisplay ForConsole(TextWriter output, int plainEvery = 10) =>
        new(output, ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
                    && Environment.GetEnvironmentVariable("CI") is null && Environment.GetEnvironmentVariable("TERM") != "dumb",
            plainEvery);

    public bool Interactive => _interactive;

    /// <summary>Runs <paramref name="training"/>, which reports each step to the observer it is given.</summary>
    public async Task<T> RunAsync<T>(string title, int totalSteps, Func<IStepObserver, Task<T>> training)
    {
        if (!_interactive) return await training(new PlainObserver(_output, _plainEvery));
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(_output),
            Interactive = InteractionSupport.Yes,
        });
        return await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(title), maxValue: totalSteps);
                var result = await training(new SpectreObserver(task, title));
                task.StopTask();
                return result;
            });
    }

    private sealed class PlainObserver(TextWriter output, int every) : IStepObserver
    {
        public void OnStep(StepMetrics metrics)
        {
            if (metrics.Step == 1 || metrics.Step % every == 0 || metrics.Step == metrics.TotalSteps || metrics.Skipped)
            {
                output.WriteLine(ProgressLine.Format(metrics));
                output.Flush();
            }
        }
    }

    private sealed class SpectreObserver(ProgressTask task, string title) : IStepObserver
    {
        public void OnStep(StepMetrics m)
        {
            task.Value = m.Step;
            task.Description = Markup.Escape(
                string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{title} {m.Step}/{m.TotalSteps} loss {m.Loss:F4} lr {m.LearningRate:0.0e+00} {m.SamplesPerSecond:F0} samples/s"));
        }
    }
}
