using System.Globalization;
using System.Text;
using FlanT5.Poplar.Checkpoints;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Files;

/// <summary>
/// An advisory lock (flock) on a folder, held through <c>.flant5.lock</c> inside it, which records the holder's PID
/// so a second run can say whose folder it is. The kernel drops the lock when the process ends, however it ends, so a
/// killed run never leaves a stale lock; the file itself stays (removing it would let two runs lock different files).
/// </summary>
public sealed class DirectoryLock : IDisposable
{
    public const string FileName = ".flant5.lock";

    private readonly SafeFileHandle _handle;

    private DirectoryLock(string directory, SafeFileHandle handle)
    {
        Directory = directory;
        _handle = handle;
    }

    public string Directory { get; }

    /// <summary>Locks <paramref name="directory"/> (created if missing) at once, or throws <see cref="IOException"/>
    /// naming the process that holds it; <paramref name="what"/> is what the folder is, for the message.</summary>
    public static DirectoryLock Acquire(string directory, string what)
    {
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var handle = FileSystemSync.TryLockExclusive(path);
        if (handle is null)
        {
            var holder = ReadHolder(path);
            throw new IOException($"{what} {directory} is in use by another flant5 run ({holder}); " +
                                  "wait for it to finish, stop it, or choose another folder");
        }
        var record = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"pid {Environment.ProcessId}, started {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\n"));
        RandomAccess.SetLength(handle, 0);
        RandomAccess.Write(handle, record, 0);
        return new DirectoryLock(directory, handle);
    }

    private static string ReadHolder(string path)
    {
        try
        {
            // Opened without .NET's own share locking, which would conflict with the holder's flock.
            var handle = FileSystemSync.OpenForReading(path);
            using (handle)
            {
                var buffer = new byte[256];
                int n = RandomAccess.Read(handle, buffer, 0);
                var text = Encoding.UTF8.GetString(buffer, 0, n).Trim();
                return text.Length > 0 ? text : "PID not recorded yet";
            }
        }
        catch (IOException)
        {
            return "PID unknown";
        }
    }

    public void Dispose() => _handle.Dispose();
}
