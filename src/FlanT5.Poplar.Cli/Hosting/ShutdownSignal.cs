using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>
/// The first Ctrl-C (or SIGTERM) cancels <see cref="Token"/> and keeps the process alive so the running command can
/// finish its step, save a checkpoint and exit; a second Ctrl-C ends the process at once.
/// </summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter _log;
    private readonly PosixSignalRegistration? _sigterm;

    public ShutdownSignal(TextWriter log)
    {
        _log = log;
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows())
            _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                RequestStop("SIGTERM");
            });
    }

    public CancellationToken Token => _source.Token;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (_source.IsCancellationRequested) return; // second Ctrl-C: let the process end
        e.Cancel = true;
        RequestStop("Ctrl-C");
    }

    private void RequestStop(string what)
    {
        _log.WriteLine($"{what}: stopping after the current step (press Ctrl-C again to abort at once)");
        _source.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _sigterm?.Dispose();
        _source.Dispose();
    }
}
