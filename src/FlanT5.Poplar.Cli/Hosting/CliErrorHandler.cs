using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>Maps exceptions that reach the top of a command to a message and an exit code.</summary>
internal static class CliErrorHandler
{
    /// <summary>
    /// Exceptions that describe a problem the user can act on (arguments, config, data, files, disk, a diverged run):
    /// one line, exit 2. The runtime's typed device errors (invalid argument, out of memory) belong here once they exist.
    /// </summary>
    public static bool IsUserError(Exception e) => e is InvalidDataException or ArgumentException or IOException
        or UnauthorizedAccessException or FormatException or TrainingDivergedException
        // An instance of a run that did not keep up with the others (HostInstances' gather timeout).
        or TimeoutException
        // What the device refuses for the user's request: bad shapes or ids, a model that does not fit, a plan or
        // backend this build cannot run. Invalid handles and internal errors stay bugs.
        or Interop.Ft5InvalidArgumentException or Interop.Ft5OutOfMemoryException or Interop.Ft5BackendUnavailableException
        or Interop.Ft5NotSupportedException;

    /// <summary>Writes the message (the stack trace only with --verbose or for internal errors) and returns the exit code.</summary>
    public static int Report(Exception e, TextWriter error, bool verbose)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } aggregate) e = aggregate.InnerExceptions[0];
        if (e is OperationCanceledException)
        {
            error.WriteLine("cancelled");
            return ExitCodes.Interrupted;
        }
        if (e is OverflowDetectedException or Interop.Ft5FloatingPointException)
        {
            var report = e is Interop.Ft5FloatingPointException native ? native.NativeMessage : e.Message;
            error.WriteLine($"overflow detected: {report}");
            error.WriteLine("  (fp16 keeps values within ±65504: try the fp16 mitigations of configs/fp16-safe.yaml " +
                            "(model.fp16, --fp16-mitigations safe), or --precision fp32)");
            return ExitCodes.Overflow;
        }
        if (IsUserError(e))
        {
            error.WriteLine($"error: {e.Message}");
            if (verbose) error.WriteLine(e.ToString());
            return ExitCodes.UserError;
        }
        error.WriteLine($"internal error: {e.GetType().Name}: {e.Message}");
        error.WriteLine(verbose ? e.ToString() : "Run again with --verbose for the stack trace, and report it.");
        return ExitCodes.InternalError;
    }
}
