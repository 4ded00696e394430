namespace FlanT5.Poplar.Reporting;

/// <summary>The files a run writes under its run directory (output.run_dir).</summary>
public sealed record RunOutputPaths(string RunDir)
{
    public string MetricsJsonl => Path.Combine(RunDir, "metrics.jsonl");
    public string MetricsCsv => Path.Combine(RunDir, "metrics.csv");
    public string Summary => Path.Combine(RunDir, "summary.json");
    public string LossPlot => Path.Combine(RunDir, "loss.png");
    /// <summary>The resolved config the run used (YAML, reloadable).</summary>
    public string ResolvedConfig => Path.Combine(RunDir, "config.yaml");

    /// <summary>Full evaluation result of one split (accuracy, per-class counts, confusion matrix).</summary>
    public string Evaluation(string split) => Path.Combine(RunDir, $"eval_{split}.json");
}
