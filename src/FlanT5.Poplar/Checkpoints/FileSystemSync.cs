using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// POSIX file calls .NET does not expose: fsync of a directory (after a rename, the directory entry must reach
/// the disk for the rename to survive a crash) and page-cache hints (read ahead the next tensor while this one is
/// converted; drop a file's cached pages). Linux only; elsewhere no-ops.
/// </summary>
internal static partial class FileSystemSync
{
    private const int ReadOnly = 0;        // O_RDONLY
    private const int Directory = 0x10000; // O_DIRECTORY (Linux)
    private const int WillNeedAdvice = 3;  // POSIX_FADV_WILLNEED
    private const int DontNeedAdvice = 4;  // POSIX_FADV_DONTNEED

    public static void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = Open(path, ReadOnly | Directory);
        if (fd < 0) throw new IOException($"cannot open directory {path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync of directory {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Asks the kernel to start reading [offset, offset + length) into the page cache (asynchronous).</summary>
    public static void WillNeed(SafeFileHandle file, long offset, long length) => Advise(file, offset, length, WillNeedAdvice);

    /// <summary>Drops the file's clean pages from the page cache (a cold-cache measurement).</summary>
    public static void DontNeed(SafeFileHandle file) => Advise(file, 0, 0, DontNeedAdvice);

    private static void Advise(SafeFileHandle file, long offset, long length, int advice)
    {
        if (!OperatingSystem.IsLinux()) return;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            _ = PosixFadvise((int)file.DangerousGetHandle(), offset, length, advice); // a hint: failure changes nothing
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
