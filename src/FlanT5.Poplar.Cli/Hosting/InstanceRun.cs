using System.CommandLine;
using System.Globalization;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>
/// A command run by several host instances (mpirun or poprun): the instances join over MPI, and an instance that
/// fails stops all of them, so none waits forever for one that will never come.
/// </summary>
internal static class InstanceRun
{
    // The longest --instance-timeout: what the native gather's millisecond count holds, rounded down.
    private const int MaxTimeoutSeconds = 4_000_000;

    /// <summary>--instance-timeout: how long an instance waits for the others at a host gather.</summary>
    public static Option<int> TimeoutOption(string waitsFor) => new("--instance-timeout")
    {
        Description = $"Under mpirun/poprun: seconds an instance waits for the others {waitsFor} before it stops every " +
            "instance with an error",
        DefaultValueFactory = _ => 600,
    };

    /// <summary>Refuses an --instance-timeout out of range (checked in one process too, where nothing waits).</summary>
    public static void CheckTimeout(int timeoutSeconds)
    {
        if (timeoutSeconds <= 0 || timeoutSeconds > MaxTimeoutSeconds)
            throw new ArgumentException($"--instance-timeout {timeoutSeconds}: expected seconds in (0, {MaxTimeoutSeconds}]");
    }

    /// <summary>Joins the run's instances, checking that MPI's world is the launch <paramref name="layout"/> describes.</summary>
    public static HostInstances Join(InstanceLayout layout, int timeoutSeconds)
    {
        CheckTimeout(timeoutSeconds);
        var instances = HostInstances.Join(TimeSpan.FromSeconds(timeoutSeconds));
        // MPI's world is not the launch the variables describe (variables set by hand, say): this instance stops
        // without the collective leave, and any other instance of that world meets the same mismatch.
        if (instances.Index != layout.InstanceIndex || instances.Count != layout.InstanceCount)
            throw new InvalidLaunchException(InstanceLayout.MpiSize, layout.InstanceCount.ToString(CultureInfo.InvariantCulture),
                $"MPI says this is instance {instances.Index} of {instances.Count}, the launcher's variables say " +
                $"{layout.InstanceIndex} of {layout.InstanceCount}: start the run with mpirun or poprun");
        return instances;
    }

    /// <summary>Runs <paramref name="body"/>; when it throws, reports the error and ends every instance with its exit code.</summary>
    public static async Task<int> RunOrAbortAsync(HostInstances instances, ParseResult parse, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e)
        {
            // The others may wait for this one in a collective it will never reach: end them all, with this error.
            var error = parse.InvocationConfiguration.Error;
            error.WriteLine($"instance {instances.Index} of {instances.Count} failed; stopping every instance");
            var code = CliErrorHandler.Report(e, error, parse.GetValue<bool>(CliApplication.VerboseOptionName));
            error.Flush();
            instances.Abort(code);
            throw;
        }
    }
}
