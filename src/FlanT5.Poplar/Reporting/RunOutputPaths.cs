namespace FlanT5.Poplar.Reporting;

/// <summary>The files a run writes under its run directory (output.run_dir).</summary>
public sealed record RunOutputPaths(string RunDir)
{
    public const string HfCheckpointName = "hf-checkpoint";
    public const string CheckpointsName = "checkpoints";

    public string MetricsJsonl => Path.Combine(RunDir, "metrics.jsonl");
    public string MetricsCsv => Path.Combine(RunDir, "metrics.csv");
    public string Summary => Path.Combine(RunDir, "summary.json");
    public string LossPlot => Path.Combine(RunDir, "loss.png");
    /// <summary>The resolved config the run used (YAML, reloadable).</summary>
    public string ResolvedConfig => Path.Combine(RunDir, "config.yaml");
    /// <summary>The Hugging Face export of the trained weights.</summary>
    public string HfCheckpoint => Path.Combine(RunDir, HfCheckpointName);

    /// <summary>Full evaluation result of one split (accuracy, per-class counts, confusion matrix).</summary>
    public string Evaluation(string split) => Path.Combine(RunDir, $"eval_{split}.json");

    /// <summary>
    /// Whether <paramref name="name"/>, an entry of a run directory, is something a run writes there (its outputs, the
    /// default checkpoint folder, the staging files of its atomic writes, its lock): what <c>--overwrite</c> may remove.
    /// </summary>
    public static bool IsRunOutput(string name) =>
        name is "metrics.jsonl" or "metrics.csv" or "summary.json" or "loss.png" or "config.yaml" or HfCheckpointName
            or CheckpointsName or Files.DirectoryLock.FileName
        || (name.StartsWith("eval_", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal))
        || (name.StartsWith('.') && (name.EndsWith(".tmp", StringComparison.Ordinal) || name.Contains(".tmp-", StringComparison.Ordinal)));
}
