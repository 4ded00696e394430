using System.Globalization;
using System.Text.RegularExpressions;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Files;

namespace FlanT5.Poplar.Reporting;

/// <summary>How a fine-tuning run treats its run directory.</summary>
public enum RunStart
{
    /// <summary>A new run: the directory must be new or empty.</summary>
    Fresh,
    /// <summary>A new run that replaces an earlier one (<c>--overwrite</c>): the earlier run's outputs are removed.</summary>
    Overwrite,
    /// <summary>Continue the run in the directory (<c>--resume</c>).</summary>
    Resume,
}

/// <summary>
/// The run directory of one fine-tuning run, locked (<see cref="DirectoryLock"/>) from before the first write to the
/// end of the run, with the checkpoint directory when that lies elsewhere. A new run never mixes with an earlier one:
/// it refuses a directory that holds one unless told to replace it (Hugging Face's <c>overwrite_output_dir</c>), and
/// the presets name a new directory per run, <c>runs/&lt;preset&gt;/{timestamp}</c> (as Hydra and Lightning do), so
/// repeating a command never clobbers its previous results; <c>--resume</c> without a directory of its own continues
/// the newest of them.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    /// <summary>Replaced in <c>output.run_dir</c> by the run's start time (UTC, <c>yyyyMMdd-HHmmss</c>).</summary>
    public const string TimestampToken = OutputSection.TimestampToken;

    private readonly List<DirectoryLock> _locks;
    private readonly bool _created;

    private RunDirectory(RunConfig config, List<DirectoryLock> locks, string? note, bool created)
    {
        Config = config;
        _locks = locks;
        Note = note;
        _created = created;
    }

    /// <summary>The run's config with <c>output.run_dir</c> resolved to this directory.</summary>
    public RunConfig Config { get; }

    public RunOutputPaths Paths => new(Config.Output.RunDir);

    /// <summary>What was done to the directory that the user should hear about, or null.</summary>
    public string? Note { get; }

    /// <summary>Picks, creates and locks the run directory <paramref name="config"/> names; throws
    /// <see cref="IOException"/> (a user error) when it is in use or holds a run the start mode may not touch.</summary>
    public static RunDirectory Open(RunConfig config, RunStart start, DateTime nowUtc)
    {
        var template = config.Output.RunDir;
        bool timestamped = template.Contains(TimestampToken, StringComparison.Ordinal);
        if (timestamped && Path.GetDirectoryName(template)?.Contains(TimestampToken, StringComparison.Ordinal) == true)
            throw new ArgumentException($"output.run_dir {template}: {TimestampToken} may appear in the last folder name only");

        if (start == RunStart.Resume && timestamped)
        {
            if (Newest(template) is { } newest) return Lock(config, newest, start, null);
            var fresh = Claim(config, template, nowUtc);
            return new RunDirectory(fresh.Config, fresh._locks, $"no earlier run matches {template}; starting a new one in {fresh.Config.Output.RunDir}",
                fresh._created);
        }
        if (timestamped) return Claim(config, template, nowUtc);
        return Lock(config, Path.GetFullPath(template), start, null);
    }

    /// <summary>The first free directory for the template at <paramref name="nowUtc"/> (-2, -3, … when runs start in the
    /// same second).</summary>
    private static RunDirectory Claim(RunConfig config, string template, DateTime nowUtc)
    {
        var stamp = nowUtc.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        for (int n = 1; ; n++)
        {
            var path = Path.GetFullPath(template.Replace(TimestampToken, n == 1 ? stamp : $"{stamp}-{n}", StringComparison.Ordinal));
            if (Directory.Exists(path) && Entries(path).Count > 0) continue;
            try
            {
                return Lock(config, path, RunStart.Fresh, null);
            }
            catch (IOException) when (n < 100)
            {
                // Taken by a run that started in the same second: the next name.
            }
        }
    }

    /// <summary>The newest existing directory the template matches, by its timestamp.</summary>
    private static string? Newest(string template)
    {
        var full = Path.GetFullPath(template.Replace(TimestampToken, "0", StringComparison.Ordinal));
        var parent = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(parent)) return null;
        var name = Path.GetFileName(template);
        int at = name.IndexOf(TimestampToken, StringComparison.Ordinal);
        var pattern = new Regex("^" + Regex.Escape(name[..at]) + @"(\d{8}-\d{6})(?:-(\d+))?" + Regex.Escape(name[(at + TimestampToken.Length)..]) + "$");
        return Directory.EnumerateDirectories(parent)
            .Select(d => (Path: d, Match: pattern.Match(Path.GetFileName(d))))
            .Where(c => c.Match.Success)
            .OrderBy(c => c.Match.Groups[1].Value, StringComparer.Ordinal)
            .ThenBy(c => c.Match.Groups[2].Success ? int.Parse(c.Match.Groups[2].Value, CultureInfo.InvariantCulture) : 1)
            .Select(c => c.Path)
            .LastOrDefault();
    }

    private static RunDirectory Lock(RunConfig config, string runDir, RunStart start, string? note)
    {
        config = config with { Output = config.Output with { RunDir = runDir } };
        bool created = !Directory.Exists(runDir);
        var locks = new List<DirectoryLock>();
        try
        {
            locks.Add(DirectoryLock.Acquire(runDir, "run directory"));
            var checkpoints = Path.GetFullPath(config.CheckpointDirectory);
            bool checkpointsInside = Path.GetDirectoryName(checkpoints) == runDir;
            if (!checkpointsInside) locks.Add(DirectoryLock.Acquire(checkpoints, "checkpoint directory (checkpoint.dir)"));

            var runEntries = Entries(runDir);
            var checkpointEntries = checkpointsInside ? [] : Entries(checkpoints).Where(IsCheckpointEntry).ToList();
            if (start == RunStart.Fresh && runEntries.Count + checkpointEntries.Count > 0)
            {
                var held = runEntries.Select(Path.GetFileName).Concat(checkpointEntries.Select(e => Path.Combine(checkpoints, Path.GetFileName(e))));
                throw new IOException($"run directory {runDir} already holds a run ({Listing(held)}): pass --resume to continue it, " +
                                      $"--overwrite to replace it, or set output.run_dir to a new folder (e.g. with {TimestampToken} in its name)");
            }
            if (start == RunStart.Overwrite)
            {
                var removed = Clear(config, runDir, runEntries, checkpointEntries);
                if (removed > 0) note = $"--overwrite: removed the earlier run's {removed} output(s) from {runDir}";
            }
            return new RunDirectory(config, locks, note, created);
        }
        catch
        {
            foreach (var l in locks) l.Dispose();
            throw;
        }
    }

    /// <summary>Removes an earlier run's outputs, refusing when the folder holds anything a run does not write or when
    /// this run reads from what would go.</summary>
    private static int Clear(RunConfig config, string runDir, List<string> runEntries, List<string> checkpointEntries)
    {
        var foreign = runEntries.Where(e => !RunOutputPaths.IsRunOutput(Path.GetFileName(e))).ToList();
        if (foreign.Count > 0)
            throw new IOException($"--overwrite: run directory {runDir} holds {Listing(foreign.Select(Path.GetFileName))}, which a run " +
                                  "does not write; refusing to delete them (move them, or choose another output.run_dir)");
        var doomed = runEntries.Concat(checkpointEntries).ToList();
        (string?, string)[] reads =
        [
            (config.Model.Checkpoint, "model.checkpoint"), (config.Data.Train, "data.train"),
            (config.Data.Eval.ValidationMatched, "data.eval.validation_matched"),
            (config.Data.Eval.ValidationMismatched, "data.eval.validation_mismatched"), (config.Checkpoint.Load, "checkpoint.load"),
        ];
        foreach (var entry in doomed)
            PathOverlap.ThrowIfOutputHoldsInput(entry, "the earlier run's", reads, "--overwrite would delete what this run reads; move it first");

        // Moved aside first, then deleted: a crash half-way leaves a hidden folder, not half an earlier run.
        var trash = Path.Combine(runDir, $".overwritten.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(trash);
        int n = 0;
        foreach (var entry in doomed)
        {
            var target = Path.Combine(trash, $"{n++:D4}-{Path.GetFileName(entry)}");
            if (Directory.Exists(entry) && new DirectoryInfo(entry).LinkTarget is null) Directory.Move(entry, target);
            else File.Move(entry, target);
        }
        Directory.Delete(trash, recursive: true);
        return doomed.Count;
    }

    private static bool IsCheckpointEntry(string path)
    {
        var name = Path.GetFileName(path);
        return name.StartsWith("checkpoint-", StringComparison.Ordinal) || (name.StartsWith('.') && name.Contains("checkpoint-", StringComparison.Ordinal));
    }

    /// <summary>Everything in <paramref name="directory"/> but the lock file.</summary>
    private static List<string> Entries(string directory) => Directory.Exists(directory)
        ? Directory.EnumerateFileSystemEntries(directory).Where(e => Path.GetFileName(e) != DirectoryLock.FileName).Order(StringComparer.Ordinal).ToList()
        : [];

    private static string Listing(IEnumerable<string?> names)
    {
        var list = names.ToList();
        return string.Join(", ", list.Take(6)) + (list.Count > 6 ? $", … {list.Count - 6} more" : "");
    }

    /// <summary>Unlocks; a directory this run created and never wrote into (it failed before starting) is removed.</summary>
    public void Dispose()
    {
        var runDir = Config.Output.RunDir;
        bool unused = _created && Entries(runDir).Count == 0;
        if (unused) File.Delete(Path.Combine(runDir, DirectoryLock.FileName));
        foreach (var l in _locks) l.Dispose();
        if (!unused) return;
        try
        {
            Directory.Delete(runDir);
        }
        catch (IOException)
        {
            // Something appeared in it meanwhile: it stays.
        }
    }
}
