using System.Globalization;
using System.Text.Json;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Reporting;

/// <summary>
/// Appends one line per step to metrics.jsonl and metrics.csv, flushed at once so a crash loses nothing.
/// Non-finite numbers are written as null (JSON has no NaN) and as NaN/Infinity in the CSV.
/// </summary>
public sealed class MetricsWriter : IStepObserver, IDisposable
{
    public const string CsvHeader = "step,loss,lr,grad_norm,loss_scale,samples_per_s,elapsed_s,skipped";

    private readonly StreamWriter _jsonl;
    private readonly StreamWriter _csv;

    /// <param name="paths">The run directory's files; metrics.jsonl and metrics.csv are written.</param>
    /// <param name="append">Continue existing files (a resumed run) instead of replacing them.</param>
    public MetricsWriter(RunOutputPaths paths, bool append = false)
    {
        Directory.CreateDirectory(paths.RunDir);
        var csvExisted = append && File.Exists(paths.MetricsCsv) && new FileInfo(paths.MetricsCsv).Length > 0;
        _jsonl = new StreamWriter(paths.MetricsJsonl, append) { NewLine = "\n" };
        _csv = new StreamWriter(paths.MetricsCsv, append) { NewLine = "\n" };
        if (!csvExisted)
        {
            _csv.WriteLine(CsvHeader);
            _csv.Flush();
        }
    }

    public void OnStep(StepMetrics m)
    {
        var inv = CultureInfo.InvariantCulture;
        _jsonl.WriteLine(
            $"{{\"step\":{m.Step},\"loss\":{Json(m.Loss)},\"lr\":{Json(m.LearningRate)},\"grad_norm\":{Json(m.GradNorm)}," +
            $"\"loss_scale\":{Json(m.LossScale)},\"samples_per_s\":{Json(m.SamplesPerSecond)},\"elapsed_s\":{Json(m.ElapsedSeconds)}," +
            $"\"skipped\":{(m.Skipped ? "true" : "false")}}}");
        _jsonl.Flush();
        _csv.WriteLine(string.Join(',',
            m.Step.ToString(inv), Csv(m.Loss), Csv(m.LearningRate), Csv(m.GradNorm), Csv(m.LossScale),
            Csv(m.SamplesPerSecond), Csv(m.ElapsedSeconds), m.Skipped ? "1" : "0"));
        _csv.Flush();
    }

    public void Dispose()
    {
        _jsonl.Dispose();
        _csv.Dispose();
    }

    private static string Json(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "null";

    private static string Csv(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Reads metrics.jsonl back (plots, resume); null numbers read as NaN. Names the line of a bad record.</summary>
    public static IReadOnlyList<StepMetrics> ReadJsonl(string path, int totalSteps = 0)
    {
        var result = new List<StepMetrics>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                double D(string key) => root.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : double.NaN;
                result.Add(new StepMetrics(
                    root.GetProperty("step").GetInt32(), totalSteps, D("loss"), D("lr"), D("grad_norm"), D("loss_scale"),
                    D("samples_per_s"), D("elapsed_s"),
                    root.TryGetProperty("skipped", out var s) && s.ValueKind == JsonValueKind.True));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: not a metrics record: {e.Message}", e);
            }
        }
        return result;
    }
}
