using System.Globalization;
using System.Text;
using System.Text.Json;
using FlanT5.Poplar.Files;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Reporting;

/// <summary>
/// Appends one line per step to metrics.jsonl and metrics.csv, flushed at once so a crash loses nothing.
/// Non-finite numbers are written as null (JSON has no NaN) and as NaN/Infinity in the CSV. The files are created
/// new (a temporary file renamed into place, so a link planted at the name is replaced, never written through); a
/// resumed run keeps the records up to the step it resumed at and drops the rest, which a killed run wrote after its
/// last checkpoint and the resumed run writes again.
/// </summary>
public sealed class MetricsWriter : IStepObserver, IDisposable
{
    public const string CsvHeader = "step,loss,lr,grad_norm,loss_scale,samples_per_s,elapsed_s,skipped";

    private readonly AtomicFile _jsonlFile;
    private readonly AtomicFile _csvFile;
    private readonly StreamWriter _jsonl;
    private readonly StreamWriter _csv;

    /// <param name="paths">The run's files.</param>
    /// <param name="resumedAtStep">Null for a new run; for a resumed run, the checkpoint's step: earlier records are
    /// kept, later ones dropped.</param>
    public MetricsWriter(RunOutputPaths paths, int? resumedAtStep = null)
    {
        Directory.CreateDirectory(paths.RunDir);
        var kept = resumedAtStep is { } step ? Kept(paths, step) : (Jsonl: [], Csv: []);
        DroppedRecords = resumedAtStep is null ? 0 : CountRecords(paths.MetricsJsonl) - kept.Jsonl.Count;
        _jsonlFile = AtomicFile.Create(paths.MetricsJsonl);
        _csvFile = AtomicFile.Create(paths.MetricsCsv);
        _jsonl = new StreamWriter(_jsonlFile.Stream, new UTF8Encoding(false)) { NewLine = "\n" };
        _csv = new StreamWriter(_csvFile.Stream, new UTF8Encoding(false)) { NewLine = "\n" };
        foreach (var line in kept.Jsonl) _jsonl.WriteLine(line);
        _csv.WriteLine(CsvHeader);
        foreach (var line in kept.Csv) _csv.WriteLine(line);
        _jsonl.Flush();
        _csv.Flush();
        _jsonlFile.Publish();
        _csvFile.Publish();
    }

    /// <summary>Records of the earlier run past the resumed step that were dropped.</summary>
    public int DroppedRecords { get; }

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
        _jsonlFile.Dispose();
        _csvFile.Dispose();
    }

    /// <summary>The lines of both files whose step is at most <paramref name="step"/>.</summary>
    private static (List<string> Jsonl, List<string> Csv) Kept(RunOutputPaths paths, int step)
    {
        // A run killed mid-write may end in a torn line: it has no step and is dropped with the rest.
        var jsonl = File.Exists(paths.MetricsJsonl)
            ? File.ReadLines(paths.MetricsJsonl).Where(l => JsonlStep(l) is { } s && s <= step).ToList()
            : [];
        var csv = File.Exists(paths.MetricsCsv)
            ? File.ReadLines(paths.MetricsCsv).Skip(1).Where(l => CsvStep(l) is { } s && s <= step).ToList()
            : [];
        return (jsonl, csv);
    }

    private static int CountRecords(string path) =>
        File.Exists(path) ? File.ReadLines(path).Count(l => !string.IsNullOrWhiteSpace(l)) : 0;

    private static int? JsonlStep(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("step", out var s)
                   && s.TryGetInt32(out var step) ? step : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static int? CsvStep(string line)
    {
        var comma = line.IndexOf(',');
        return comma > 0 && int.TryParse(line.AsSpan(0, comma), NumberStyles.None, CultureInfo.InvariantCulture, out var step) ? step : null;
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
