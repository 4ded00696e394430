using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// POSIX file calls .NET does not expose: fsync of a directory (after a rename, the directory entry must reach
/// the disk for the rename to survive a crash), page-cache hints (read ahead the next tensor while this one is
/// converted; drop a file's cached pages), O_DIRECT and O_NOFOLLOW opens (.NET drops unknown <see cref="FileOptions"/>
/// bits, so <c>(FileOptions)0x4000</c> does not reach open(2)), the atomic exchange of two directories, advisory
/// locks, and a path's canonical form and identity. Linux only; elsewhere no-ops or the portable fallback.
/// </summary>
internal static partial class FileSystemSync
{
    private const int ReadOnly = 0;        // O_RDONLY
    private const int WriteOnly = 1;       // O_WRONLY
    private const int ReadWrite = 2;       // O_RDWR
    private const int CreateFlag = 0x40;   // O_CREAT (Linux, every architecture)
    private const int TruncateFlag = 0x200; // O_TRUNC
    private const int CloseOnExec = 0x80000; // O_CLOEXEC (Linux, every architecture)
    private const int WouldBlock = 11;     // EWOULDBLOCK = EAGAIN
    private const int InvalidArgument = 22; // EINVAL
    private const int NotImplemented = 38; // ENOSYS
    private const int TooManyLinks = 40;   // ELOOP: the last component is a symbolic link under O_NOFOLLOW
    private const int LockExclusive = 2;   // LOCK_EX
    private const int LockNonBlocking = 4; // LOCK_NB
    private const int RenameExchange = 2;  // RENAME_EXCHANGE
    private const int CurrentDirectory = -100; // AT_FDCWD
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
        int direct = DirectFlag;
        if (direct == 0) return null;
        int fd = Open(path, (forWriting ? WriteOnly : ReadOnly) | direct | NoFollowFlag | CloseOnExec);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Creates (or truncates) <paramref name="path"/> for writing without following a symbolic link at that name: a
    /// link planted there makes the open fail instead of redirecting the write to the file it points at. With
    /// <paramref name="direct"/> it first tries O_DIRECT and says in <paramref name="isDirect"/> whether it got it.
    /// </summary>
    public static SafeFileHandle CreateForWriting(string path, bool direct, out bool isDirect)
    {
        isDirect = false;
        if (!OperatingSystem.IsLinux()) return File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        const int mode = 0x1B6; // 0666, narrowed by the umask as open(2) does for every other file
        int flags = WriteOnly | CreateFlag | TruncateFlag | NoFollowFlag | CloseOnExec;
        if (direct && DirectFlag != 0)
        {
            int directFd = OpenCreate(path, flags | DirectFlag, mode);
            if (directFd >= 0)
            {
                isDirect = true;
                return new SafeFileHandle(directFd, ownsHandle: true);
            }
            if (Marshal.GetLastPInvokeError() != InvalidArgument) ThrowOpenError(path, Marshal.GetLastPInvokeError());
        }
        int fd = OpenCreate(path, flags, mode);
        if (fd < 0) ThrowOpenError(path, Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Opens (creating it if needed) <paramref name="path"/> for reading and writing without following a symbolic
    /// link, and takes an exclusive advisory lock (flock) on it without waiting. Null when another open file holds the
    /// lock — another process, or this one through another open. The lock lasts until the handle is closed.
    /// </summary>
    public static SafeFileHandle? TryLockExclusive(string path)
    {
        if (!OperatingSystem.IsLinux()) return File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        int fd = OpenCreate(path, ReadWrite | CreateFlag | NoFollowFlag | CloseOnExec, 0x1A4); // 0644
        if (fd < 0) ThrowOpenError(path, Marshal.GetLastPInvokeError());
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Flock(fd, LockExclusive | LockNonBlocking) == 0) return handle;
        int errno = Marshal.GetLastPInvokeError();
        handle.Dispose();
        if (errno == WouldBlock) return null;
        throw new IOException($"cannot lock {path} (errno {errno})");
    }

    /// <summary>Opens an existing file read-only without following a link and without .NET's share locking.</summary>
    public static SafeFileHandle OpenForReading(string path)
    {
        if (!OperatingSystem.IsLinux()) return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        int fd = Open(path, ReadOnly | NoFollowFlag | CloseOnExec);
        if (fd < 0) throw new IOException($"cannot open {path} (errno {Marshal.GetLastPInvokeError()})");
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Swaps two existing directory entries in one step (renameat2 RENAME_EXCHANGE): each name then holds what the other
    /// held, and at no moment does either name hold nothing. False where the kernel or file system cannot (the caller
    /// then falls back to two renames).
    /// </summary>
    public static bool TryExchange(string first, string second)
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (RenameAt2(CurrentDirectory, first, CurrentDirectory, second, RenameExchange) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is InvalidArgument or NotImplemented) return false;
        throw new IOException($"cannot swap {second} with {first} (errno {errno})");
    }

    /// <summary>Makes <paramref name="target"/> a second name of the file <paramref name="existing"/> (link(2), which
    /// never follows a link at the source); false where that is refused (another file system, no hard links).</summary>
    public static bool TryHardLink(string existing, string target) =>
        OperatingSystem.IsLinux() && Link(existing, target) == 0;

    /// <summary>The canonical absolute path of an existing <paramref name="path"/> (every link resolved, as realpath(3));
    /// null when it does not exist. Elsewhere than Linux: the full path with the last link resolved.</summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (!Path.Exists(path)) return null;
            FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
            return Path.GetFullPath(info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName);
        }
        IntPtr resolved = RealPathNative(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>The (device, inode) pair of an existing path, following links; null when it does not exist or on other
    /// systems. Two names with the same identity are the same file or folder (bind mounts and hard links included).</summary>
    public static unsafe (ulong Device, ulong Inode)? Identity(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        // struct stat starts with st_dev and st_ino, both 64-bit, on x86-64 and arm64 Linux; the rest is not read.
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64)) return null;
        var buffer = stackalloc ulong[32]; // 256 bytes: larger than struct stat on both
        if (Stat(path, buffer) != 0) return null;
        return (buffer[0], buffer[1]);
    }

    private static void ThrowOpenError(string path, int errno) => throw (errno == TooManyLinks
        ? new IOException($"{path} is a symbolic link; refusing to write through it")
        : new IOException($"cannot create {path}: {new System.ComponentModel.Win32Exception(errno).Message}"));

    private static int DirectFlag => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,           // O_DIRECT, asm-generic
        Architecture.Arm64 or Architecture.Arm => 0x10000,        // O_DIRECT, arm
        _ => 0,
    };

    private static int NoFollowFlag => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x20000,          // O_NOFOLLOW, asm-generic
        Architecture.Arm64 or Architecture.Arm => 0x8000,         // O_NOFOLLOW, arm
        _ => 0,
    };

    /// <summary>
    /// Asks for transparent huge pages behind [address, address + length) (a hint; needs 2 MiB alignment to help):
    /// buffers that the disk fills and the CPU streams through then need 512 times fewer page-table entries.
    /// </summary>
    public static unsafe void AdviseHugePages(void* address, nuint length)
    {
        if (!OperatingSystem.IsLinux()) return;
        _ = Madvise(address, length, HugePageAdvice); // a hint: failure changes nothing
    }

    /// <summary>Forces an existing file's data to disk (fsync), whoever wrote it.</summary>
    public static void SyncFile(string path)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = Open(path, ReadOnly | NoFollowFlag | CloseOnExec);
        if (fd < 0) throw new IOException($"cannot open {path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync of {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
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

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenCreate(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr RealPathNative(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string target);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr pointer);

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, ulong* buffer);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static unsafe partial int Madvise(void* address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
