using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// POSIX file calls .NET does not expose: fsync of a directory (after a rename, the directory entry must reach
/// the disk for the rename to survive a crash) and page-cache hints (read ahead the next tensor while this one is
/// converted; drop a file's cached pages) and O_DIRECT opens (.NET drops unknown <see cref="FileOptions"/> bits, so
/// <c>(FileOptions)0x4000</c> does not reach open(2)). Linux only; elsewhere no-ops.
/// </summary>
internal static partial class FileSystemSync
{
    private const int ReadOnly = 0;        // O_RDONLY
    private const int WriteOnly = 1;       // O_WRONLY
    private const int CloseOnExec = 0x80000; // O_CLOEXEC (Linux, every architecture)
    private const int WillNeedAdvice = 3;  // POSIX_FADV_WILLNEED
    private const int DontNeedAdvice = 4;  // POSIX_FADV_DONTNEED
    private const int HugePageAdvice = 14; // MADV_HUGEPAGE

    /// <summary>
    /// Opens the existing <paramref name="path"/> read-only (or write-only) with O_DIRECT: reads and writes bypass the
    /// page cache, the device moves the bytes straight from or to the caller's buffer. Null where that is refused — tmpfs and some file systems, other OSes or CPU
    /// architectures whose flag value is not known here — so the caller falls back to ordinary reads.
    /// </summary>
    public static SafeFileHandle? TryOpenDirect(string path, bool forWriting = false)
    {
        if (!OperatingSystem.IsLinux()) return null;
        int direct = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 or Architecture.X86 => 0x4000,           // O_DIRECT, asm-generic
            Architecture.Arm64 or Architecture.Arm => 0x10000,        // O_DIRECT, arm
            _ => 0,
        };
        if (direct == 0) return null;
        int fd = Open(path, (forWriting ? WriteOnly : ReadOnly) | direct | CloseOnExec);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Asks for transparent huge pages behind [address, address + length) (a hint; needs 2 MiB alignment to help):
    /// buffers that the disk fills and the CPU streams through then need 512 times fewer page-table entries.
    /// </summary>
    public static unsafe void AdviseHugePages(void* address, nuint length)
    {
        if (!OperatingSystem.IsLinux()) return;
        _ = Madvise(address, length, HugePageAdvice); // a hint: failure changes nothing
    }

    public static void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux()) return;
        // O_DIRECTORY's value depends on the architecture (as O_DIRECT's does); without a known value the open is
        // still read-only and fsync works the same on a directory.
        int directory = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 or Architecture.X86 => 0x10000,          // O_DIRECTORY, asm-generic
            Architecture.Arm64 or Architecture.Arm => 0x4000,         // O_DIRECTORY, arm
            _ => 0,
        };
        int fd = Open(path, ReadOnly | directory);
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

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static unsafe partial int Madvise(void* address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
