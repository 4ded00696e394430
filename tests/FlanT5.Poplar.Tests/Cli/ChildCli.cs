using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// The built flant5 run as a child process (what a user's shell runs), for what only a real process shows: signals,
/// locks held by another process, limits set on a process. Output is collected as it arrives.
/// </summary>
internal sealed partial class ChildCli : IDisposable
{
    public const int SigInt = 2;
    public const int SigTerm = 15;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _lines = new(0);

    private ChildCli(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _stdout.Enqueue(e.Data);
            _lines.Release();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) _stderr.AppendLine(e.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string CliDll => Path.Combine(TestContext.CurrentContext.TestDirectory, "flant5.dll");

    public int Id => _process.Id;

    /// <summary>Starts <c>dotnet flant5.dll args</c>; stdin is a pipe the test holds open (nothing is written to it)
    /// unless <paramref name="shellPrefix"/> runs it through bash (<c>ulimit …; exec</c>, redirections).</summary>
    public static ChildCli Start(IEnumerable<string> args, string? shellPrefix = null, string? workingDirectory = null)
    {
        ProcessStartInfo start;
        if (shellPrefix is null)
        {
            start = new ProcessStartInfo("dotnet");
            start.ArgumentList.Add(CliDll);
            foreach (var a in args) start.ArgumentList.Add(a);
        }
        else
        {
            start = new ProcessStartInfo("bash");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"{shellPrefix} exec dotnet \"$0\" \"$@\"");
            start.ArgumentList.Add(CliDll);
            foreach (var a in args) start.ArgumentList.Add(a);
        }
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = workingDirectory ?? TestContext.CurrentContext.TestDirectory;
        start.Environment["CI"] = "1"; // plain progress lines
        return new ChildCli(Process.Start(start)!);
    }

    /// <summary>Runs to the end (at most <paramref name="timeoutSeconds"/>) with <paramref name="stdin"/> as its input and
    /// returns the exit code and output.</summary>
    public static (int Code, string Output, string Error) Run(IEnumerable<string> args, string? shellPrefix = null, int timeoutSeconds = 120,
        string stdin = "")
    {
        using var child = Start(args, shellPrefix);
        child._process.StandardInput.Write(stdin);
        child._process.StandardInput.Close();
        int code = child.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds))
                   ?? throw new AssertionException($"flant5 {string.Join(' ', args)} did not finish in {timeoutSeconds} s: {child.Output}{child.Error}");
        return (code, child.Output, child.Error);
    }

    public string Output => string.Join('\n', _stdout);

    public string Error
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }

    /// <summary>Waits for a stdout line matching <paramref name="predicate"/>; false on timeout or when the process ended.</summary>
    public bool WaitForLine(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        int seen = 0;
        while (DateTime.UtcNow < deadline)
        {
            var lines = _stdout.ToArray();
            for (; seen < lines.Length; seen++)
                if (predicate(lines[seen])) return true;
            if (_process.HasExited && seen == _stdout.Count) return false;
            _lines.Wait(TimeSpan.FromMilliseconds(100));
        }
        return false;
    }

    /// <summary>
    /// Waits until a thread of the process sleeps in a read of a pipe or FIFO (its stdin), so a signal sent next
    /// reaches the command and not the runtime's start-up. False when that was not seen in time.
    /// </summary>
    public bool WaitUntilBlockedReading(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                foreach (var task in Directory.EnumerateDirectories($"/proc/{Id}/task"))
                {
                    var wchan = File.ReadAllText(Path.Combine(task, "wchan"));
                    if (wchan.Contains("pipe_read", StringComparison.Ordinal) || wchan.Contains("pipe_wait", StringComparison.Ordinal))
                        return true;
                }
            }
            catch (IOException)
            {
                // A thread ended while it was being looked at.
            }
            Thread.Sleep(100);
        }
        return false;
    }

    /// <summary>CPU time the process has used so far (user + system), from /proc.</summary>
    public double CpuSeconds
    {
        get
        {
            var stat = File.ReadAllText($"/proc/{Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime in clock ticks (USER_HZ 100)
        }
    }

    /// <summary>Whether the child has <paramref name="signal"/> ignored (inherited SIG_IGN: it cannot be tested then).</summary>
    public bool Ignores(int signal)
    {
        var line = File.ReadLines($"/proc/{Id}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        var mask = Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16);
        return (mask & (1UL << (signal - 1))) != 0;
    }

    public void Signal(int signal)
    {
        if (Kill(Id, signal) != 0) throw new InvalidOperationException($"kill({Id}, {signal}) failed (errno {Marshal.GetLastPInvokeError()})");
    }

    public int? WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return null;
        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.Dispose();
        _lines.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
