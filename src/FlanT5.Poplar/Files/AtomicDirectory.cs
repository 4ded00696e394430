using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Files;

/// <summary>
/// A folder written in full beside its destination and then swapped in, so that the destination holds either the
/// whole previous folder or the whole new one — a failed or killed write (a full disk, Ctrl-C, kill -9) leaves the
/// previous one untouched and only a hidden staging folder behind. <see cref="Commit"/> forces every file and the
/// folder to disk, exchanges the staging folder with the destination in one step (renameat2 RENAME_EXCHANGE; two
/// renames where the file system cannot), forces the parent to disk, and deletes what was replaced. Training
/// checkpoints and Hugging Face exports are both written this way.
/// </summary>
public sealed class AtomicDirectory : IDisposable
{
    private bool _committed;

    /// <param name="destination">The folder to replace (or create); its parent is created if missing.</param>
    /// <param name="stagingName">Name of the staging folder beside it (default <c>.{name}.tmp-{random}</c>); it must be
    /// one the caller recognises as a leftover.</param>
    public AtomicDirectory(string destination, string? stagingName = null)
    {
        Destination = Path.GetFullPath(destination);
        Parent = Path.GetDirectoryName(Destination) ?? throw new ArgumentException($"{destination} has no parent folder");
        Directory.CreateDirectory(Parent);
        StagingPath = Path.Combine(Parent, stagingName ?? StagingNameFor(Path.GetFileName(Destination)));
        if (Path.Exists(StagingPath)) throw new IOException($"{StagingPath} already exists");
        Directory.CreateDirectory(StagingPath);
    }

    public string Destination { get; }

    /// <summary>The folder being written; its content becomes <see cref="Destination"/> on <see cref="Commit"/>.</summary>
    public string StagingPath { get; }

    private string Parent { get; }

    /// <summary>The default staging name for a folder called <paramref name="name"/>.</summary>
    public static string StagingNameFor(string name) => $".{name}.tmp-{Guid.NewGuid():N}";

    /// <summary>Whether <paramref name="name"/> is a staging folder <see cref="StagingNameFor"/> made for <paramref name="of"/>.</summary>
    public static bool IsStagingNameFor(string name, string of) => name.StartsWith($".{of}.tmp-", StringComparison.Ordinal);

    /// <summary>
    /// Makes the staging folder the destination. Entries of the replaced folder for which <paramref name="carryOver"/>
    /// is true (files the writer does not own: a README, a .git folder) are first hard-linked into the new one, so
    /// nothing of the user's is lost; links are copied as links, never followed.
    /// </summary>
    public void Commit(Func<string, bool>? carryOver = null)
    {
        if (_committed) throw new InvalidOperationException($"{Destination} is already committed");
        bool replacing = Directory.Exists(Destination);
        if (replacing && carryOver is not null)
        {
            foreach (var entry in new DirectoryInfo(Destination).EnumerateFileSystemInfos())
            {
                var target = Path.Combine(StagingPath, entry.Name);
                if (carryOver(entry.Name) && !Path.Exists(target)) LinkTree(entry, target);
            }
        }
        SyncTree(StagingPath);
        if (!replacing)
        {
            Directory.Move(StagingPath, Destination);
        }
        else if (!FileSystemSync.TryExchange(StagingPath, Destination))
        {
            // No atomic exchange here: move the old folder aside first, so a crash between the renames leaves the old
            // folder under a leftover name and the complete new one in staging, never a mix.
            var aside = Path.Combine(Parent, StagingNameFor(Path.GetFileName(Destination)));
            Directory.Move(Destination, aside);
            Directory.Move(StagingPath, Destination);
            Directory.Move(aside, StagingPath);
        }
        FileSystemSync.SyncDirectory(Parent);
        _committed = true;
        if (replacing) DeleteQuietly(StagingPath); // the replaced folder, now under the staging name
    }

    /// <summary>Deletes the staging folder unless committed.</summary>
    public void Dispose()
    {
        if (!_committed) DeleteQuietly(StagingPath);
    }

    private static void LinkTree(FileSystemInfo entry, string target)
    {
        if (entry.LinkTarget is { } link)
        {
            if (entry is DirectoryInfo) Directory.CreateSymbolicLink(target, link);
            else File.CreateSymbolicLink(target, link);
        }
        else if (entry is DirectoryInfo directory)
        {
            Directory.CreateDirectory(target);
            foreach (var child in directory.EnumerateFileSystemInfos()) LinkTree(child, Path.Combine(target, child.Name));
        }
        else if (!FileSystemSync.TryHardLink(entry.FullName, target))
        {
            File.Copy(entry.FullName, target);
        }
    }

    private static void SyncTree(string directory)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is not null) continue;
            if (entry is DirectoryInfo) SyncTree(entry.FullName);
            else FileSystemSync.SyncFile(entry.FullName);
        }
        FileSystemSync.SyncDirectory(directory);
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover under a staging name; the next writer of this folder removes it.
        }
    }
}
