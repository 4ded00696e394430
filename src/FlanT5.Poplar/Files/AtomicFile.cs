using System.Text;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Files;

/// <summary>
/// A file written so that readers see the old content or the whole new one, never a mix, and never through a link
/// planted at its name: the bytes go to a new temporary file beside it (created exclusively, which does not follow
/// links), are forced to disk, and the temporary is renamed over the name (a rename replaces a link, never its
/// target). The temporary is created at once, so an unwritable destination fails before the work that fills it.
/// </summary>
public sealed class AtomicFile : IDisposable
{
    private readonly string _temporary;
    private bool _published;

    private AtomicFile(string path, string temporary, FileStream stream)
    {
        Path = path;
        _temporary = temporary;
        Stream = stream;
    }

    /// <summary>The destination.</summary>
    public string Path { get; }

    /// <summary>Where the content is written; after <see cref="Publish"/> it still appends to the published file.</summary>
    public FileStream Stream { get; }

    /// <summary>Starts writing <paramref name="path"/> (its folder is created if missing).</summary>
    public static AtomicFile Create(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(full)!;
        var temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        FileStream stream;
        try
        {
            Directory.CreateDirectory(directory);
            stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {full}: {e.Message}", e);
        }
        return new AtomicFile(full, temporary, stream);
    }

    /// <summary>
    /// Forces what was written to disk and renames it into place. The stream stays open: later writes append to the
    /// published file (metrics written step by step).
    /// </summary>
    public void Publish()
    {
        if (_published) throw new InvalidOperationException($"{Path} is already published");
        try
        {
            Stream.Flush(flushToDisk: true);
            File.Move(_temporary, Path, overwrite: true);
            FileSystemSync.SyncDirectory(System.IO.Path.GetDirectoryName(Path)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {Path}: {e.Message}", e);
        }
        _published = true;
    }

    /// <summary>Publishes (if not yet) and closes.</summary>
    public void Commit()
    {
        if (!_published) Publish();
        Stream.Dispose();
    }

    /// <summary>Closes; an unpublished file is discarded and the destination left as it was.</summary>
    public void Dispose()
    {
        Stream.Dispose();
        if (!_published) File.Delete(_temporary);
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var file = Create(path);
        try
        {
            file.Stream.Write(bytes);
        }
        catch (IOException e)
        {
            throw new IOException($"cannot write {file.Path}: {e.Message}", e);
        }
        file.Commit();
    }

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));
}
