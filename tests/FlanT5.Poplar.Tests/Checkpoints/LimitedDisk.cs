using System.Diagnostics;

namespace FlanT5.Poplar.Tests.Checkpoints;

/// <summary>
/// A folder on a file system that fails writes on purpose. Where the test may mount one (root here), a tmpfs of the
/// given size: writes fail with ENOSPC once it is full, as on a full disk. Elsewhere (CI without root) an ordinary
/// folder, and the command under test runs as a child process with a file-size limit (ulimit -f, SIGXFSZ ignored), so
/// a write past the limit fails with EFBIG the same way. The mode is written to the test's output; neither skips.
/// </summary>
internal sealed class LimitedDisk : IDisposable
{
    private readonly bool _mounted;

    private LimitedDisk(string root, bool mounted, long fileLimitBytes)
    {
        Root = root;
        _mounted = mounted;
        FileLimitBytes = fileLimitBytes;
    }

    /// <summary>The folder; with a tmpfs, its mount point.</summary>
    public string Root { get; }

    public bool IsTmpfs => _mounted;

    /// <summary>The per-file limit of the child process when no tmpfs could be mounted.</summary>
    public long FileLimitBytes { get; }

    /// <param name="tmpfsBytes">Size of the tmpfs, when one can be mounted.</param>
    /// <param name="fileLimitBytes">Otherwise, the largest file the child may write.</param>
    public static LimitedDisk Create(long tmpfsBytes, long fileLimitBytes)
    {
        var root = Path.Combine(Path.GetTempPath(), "ft5-limited-disk", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        bool mounted = Environment.UserName == "root" && Exec("mount", "-t", "tmpfs", "-o", $"size={tmpfsBytes}", "tmpfs", root) == 0;
        TestContext.Out.WriteLine(mounted
            ? $"limited disk: tmpfs of {tmpfsBytes} bytes at {root}"
            : $"limited disk: no tmpfs could be mounted; the child runs with ulimit -f {fileLimitBytes / 1024} KiB in {root}");
        return new LimitedDisk(root, mounted, fileLimitBytes);
    }

    /// <summary>The bash prefix that applies the limit to a child (none on a tmpfs: the file system is the limit).
    /// The runtime's own double-mapped code memory is a file too (W^X), so that is turned off under the limit.</summary>
    public string? ShellPrefix => _mounted ? null : $"ulimit -f {FileLimitBytes / 1024}; trap '' XFSZ; export DOTNET_EnableWriteXorExecute=0;";

    public void Dispose()
    {
        if (_mounted && Exec("umount", Root) != 0) Exec("umount", "-l", Root);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int Exec(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
