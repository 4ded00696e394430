using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>
/// What SIGINT (Ctrl-C) and SIGTERM do. Outside a <see cref="FinishStepOnStop"/> scope the process stops at once,
/// with the conventional status (130 for SIGINT, 143 for SIGTERM: the signal's default action, which also ends a
/// command blocked reading stdin or a FIFO). Inside one — the training loop — the first signal cancels
/// <see cref="Token"/> so the trainer finishes its step, saves a checkpoint and returns <see cref="ExitCode"/>; a
/// second signal stops at once.
/// </summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter _log;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly Lock _lock = new();
    private int _gracefulScopes;
    private int? _exitCode;

    public ShutdownSignal(TextWriter log) : this(log, listen: true)
    {
    }

    /// <param name="log">Where what a signal does is said.</param>
    /// <param name="listen">Register for the process's signals (false: only <see cref="Handle"/> is called, in tests).</param>
    internal ShutdownSignal(TextWriter log, bool listen)
    {
        _log = log;
        if (!listen || OperatingSystem.IsWindows()) return;
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _registrations.Add(PosixSignalRegistration.Create(signal, context => context.Cancel = Handle(context.Signal)));
    }

    public CancellationToken Token => _source.Token;

    /// <summary>The status of a run stopped by a signal: 128 + the first signal's number.</summary>
    public int ExitCode => _exitCode ?? ExitCodes.Interrupted;

    /// <summary>While the returned scope is open, the first signal asks the work to stop after its current step.</summary>
    public IDisposable FinishStepOnStop()
    {
        lock (_lock) _gracefulScopes++;
        return new Scope(this);
    }

    /// <summary>Decides what a signal does; true keeps the process running (the work stops by itself).</summary>
    internal bool Handle(PosixSignal signal)
    {
        var name = signal == PosixSignal.SIGTERM ? "SIGTERM" : "Ctrl-C";
        lock (_lock)
        {
            if (_exitCode is null && _gracefulScopes > 0)
            {
                _exitCode = ExitCodes.ForSignal(signal);
                _log.WriteLine($"{name}: stopping after the current step and saving a checkpoint (send it again to stop at once)");
                _log.Flush();
                _source.Cancel();
                return true;
            }
            _exitCode ??= ExitCodes.ForSignal(signal);
        }
        _log.WriteLine($"{name}: stopping");
        _log.Flush();
        return false;
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _source.Dispose();
    }

    private sealed class Scope(ShutdownSignal owner) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            lock (owner._lock) owner._gracefulScopes--;
        }
    }
}
