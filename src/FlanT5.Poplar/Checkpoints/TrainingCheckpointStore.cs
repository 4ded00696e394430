using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using FlanT5.Poplar.Files;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A checkpoint on disk: its step and folder.</summary>
public sealed record TrainingCheckpointEntry(long Step, string Directory);

/// <summary>
/// Training checkpoints in one folder, as <c>checkpoint-{step:D8}/</c> (weights, AdamW m and v in safetensors,
/// manifest.msgpack with a checksum per tensor). A save is atomic: everything is written into a hidden temporary
/// folder, each file and the folder are fsynced, then the folder is swapped into place and the parent fsynced
/// (<see cref="AtomicDirectory"/>) — a process killed mid-save leaves only a temporary folder, which is never listed
/// and is removed by the next save.
/// The last <see cref="KeepLast"/> checkpoints are kept.
/// </summary>
public sealed partial class TrainingCheckpointStore
{
    private const string Prefix = "checkpoint-";
    private const string TempPrefix = ".tmp-checkpoint-";
    private const string TrashPrefix = ".trash-checkpoint-";

    public string Root { get; }
    /// <summary>How many checkpoints to keep (the newest); 0 keeps all.</summary>
    public int KeepLast { get; }
    /// <summary>Called with a short line as each tensor and file of a save is written (progress, tests).</summary>
    public Action<string>? Progress { get; init; }

    public TrainingCheckpointStore(string root, int keepLast = 4)
    {
        if (keepLast < 0) throw new ArgumentOutOfRangeException(nameof(keepLast), "keepLast must be ≥ 0");
        Root = root;
        KeepLast = keepLast;
    }

    [GeneratedRegex(@"^checkpoint-(\d{8,})$")]
    private static partial Regex CheckpointName();

    /// <summary>Complete checkpoints (renamed into place), oldest first.</summary>
    public IReadOnlyList<TrainingCheckpointEntry> List()
    {
        if (!Directory.Exists(Root)) return [];
        var list = new List<TrainingCheckpointEntry>();
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            var match = CheckpointName().Match(Path.GetFileName(dir));
            if (match.Success && long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var step))
                list.Add(new TrainingCheckpointEntry(step, dir));
        }
        return list.OrderBy(e => e.Step).ToList();
    }

    /// <summary>Opens and verifies the newest checkpoint; null when there is none. A damaged one throws.</summary>
    public TrainingCheckpoint? LoadLatest()
    {
        var list = List();
        return list.Count == 0 ? null : TrainingCheckpoint.Open(list[^1].Directory);
    }

    public TrainingCheckpoint Load(long step)
    {
        var entry = List().FirstOrDefault(e => e.Step == step)
            ?? throw new FileNotFoundException($"{Root}: no checkpoint for step {step}");
        return TrainingCheckpoint.Open(entry.Directory);
    }

    /// <summary>Writes <paramref name="state"/> atomically as checkpoint-{step}; returns its folder.</summary>
    public string Save(TrainingState state)
    {
        if (state.Step < 0) throw new ArgumentOutOfRangeException(nameof(state), "step must be ≥ 0");
        CheckMomentsMatchWeights(state);
        Directory.CreateDirectory(Root);
        RemoveLeftovers();
        string final = Path.Combine(Root, $"{Prefix}{state.Step:D8}");
        // Same step saved again (a resumed run) replaces the old one in one exchange: a crash at any point leaves
        // either the old or the new checkpoint in place, never a mix.
        using (var staging = new AtomicDirectory(final, $"{TempPrefix}{state.Step:D8}-{Guid.NewGuid():N}"))
        {
            string temp = staging.StagingPath;
            var manifest = new TrainingCheckpointManifest
            {
                Step = state.Step,
                SchedulePosition = state.SchedulePosition,
                LossScale = state.LossScale,
                DataCursor = state.DataCursor,
                RngState = state.RngState,
                Plan = state.Plan,
                RunConfig = state.RunConfig,
                ModelConfigJson = state.Config.ToHfJson().ToJsonString(),
                Layout = state.Layout.ToString(),
                SavedAtUtc = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            };
            manifest.Files.Add(WriteTensors(Path.Combine(temp, TrainingCheckpoint.WeightsFile), state.Weights));
            manifest.Files.Add(WriteTensors(Path.Combine(temp, TrainingCheckpoint.FirstMomentFile), state.AdamFirstMoment));
            manifest.Files.Add(WriteTensors(Path.Combine(temp, TrainingCheckpoint.SecondMomentFile), state.AdamSecondMoment));
            using (var stream = new FileStream(Path.Combine(temp, TrainingCheckpointManifest.FileName), FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(manifest.ToBytes());
                stream.Flush(flushToDisk: true);
            }
            Progress?.Invoke($"wrote {TrainingCheckpointManifest.FileName}");
            staging.Commit();
            Progress?.Invoke($"saved {final}");
        }
        Prune();
        RemoveLeftovers();
        return final;
    }

    private static void CheckMomentsMatchWeights(TrainingState state)
    {
        var weights = state.Weights.Tensors;
        foreach (var (label, moments) in new[] { ("AdamW m", state.AdamFirstMoment), ("AdamW v", state.AdamSecondMoment) })
        {
            var tensors = moments.Tensors;
            if (tensors.Count != weights.Count || weights.Zip(tensors).Any(p => p.First.Name != p.Second.Name || !ShapeMath.SameShape(p.First.Shape, p.Second.Shape)))
                throw new ArgumentException($"{label} must hold one tensor per weight, same names, shapes and order ({weights.Count} weights, {tensors.Count} moments)");
        }
    }

    private TrainingCheckpointFile WriteTensors(string path, ITensorSource source)
    {
        var entry = new TrainingCheckpointFile { Name = Path.GetFileName(path) };
        var specs = source.Tensors.Select(t => new SafetensorsTensorSpec(t.Name, SafetensorsDType.F32, t.Shape)).ToList();
        float[] buffer = [];
        using (var writer = new SafetensorsWriter(path, specs))
        {
            foreach (var t in source.Tensors)
            {
                int n = checked((int)t.ElementCount);
                if (buffer.Length < n) buffer = new float[n];
                var values = buffer.AsSpan(0, n);
                source.ReadTensor(t.Name, values);
                var bytes = MemoryMarshal.AsBytes(values);
                writer.WriteTensorBytes(t.Name, bytes);
                entry.Tensors.Add(new TrainingCheckpointTensor { Name = t.Name, Shape = t.Shape, XxHash64 = XxHash64.HashToUInt64(bytes) });
                Progress?.Invoke($"wrote {entry.Name} {t.Name}");
            }
            writer.Complete(flushToDisk: true);
        }
        entry.Length = new FileInfo(path).Length;
        Progress?.Invoke($"wrote {entry.Name}");
        return entry;
    }

    private void Prune()
    {
        if (KeepLast == 0) return;
        var list = List();
        foreach (var old in list.Take(Math.Max(0, list.Count - KeepLast)))
        {
            // Rename first: a half-deleted folder must not look like a checkpoint.
            var trash = Path.Combine(Root, $"{TrashPrefix}{Guid.NewGuid():N}");
            Directory.Move(old.Directory, trash);
        }
    }

    /// <summary>Removes temporary folders of saves that never finished and folders moved aside for deletion.</summary>
    private void RemoveLeftovers()
    {
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith(TempPrefix, StringComparison.Ordinal) || name.StartsWith(TrashPrefix, StringComparison.Ordinal)
                || (name.StartsWith($".{Prefix}", StringComparison.Ordinal) && name.Contains(".tmp-", StringComparison.Ordinal)))
                Directory.Delete(dir, recursive: true);
        }
    }
}
