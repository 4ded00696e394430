using System.Text.Json;
using System.Text.Json.Serialization;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Files;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Reporting;

/// <summary>Final accuracy of one split, as summary.json lists it (the full result is in eval_{split}.json).</summary>
public sealed record SplitAccuracy(double Accuracy, int Correct, int Total, int Unknown)
{
    public static SplitAccuracy From(EvaluationResult result) => new(result.Accuracy, result.Correct, result.Total, result.Unknown);
}

/// <summary>How the run was launched, as summary.json records it: one process, or several host instances.</summary>
public sealed record RunLaunch(string Launcher, int Instances, int ReplicasPerInstance)
{
    public static RunLaunch Of(InstanceLayout layout) =>
        new(InstanceLayout.LauncherName(layout.Launcher), layout.InstanceCount, layout.LocalReplicas);
}

/// <summary>summary.json: what a run did and where its outputs are.</summary>
public sealed record RunSummary
{
    public required string RunDir { get; init; }
    /// <summary>The config file or preset the run was started from.</summary>
    public required string ConfigSource { get; init; }
    public required int StepsCompleted { get; init; }
    public required int StepsPlanned { get; init; }
    public int SkippedSteps { get; init; }
    public long Samples { get; init; }
    public double TrainSeconds { get; init; }
    /// <summary>Samples / train seconds over the whole run.</summary>
    public double SamplesPerSecond { get; init; }
    public double? FinalLoss { get; init; }
    /// <summary>Program sets of the session's engine (one per batch shape bucket, sharing the weights).</summary>
    public int ProgramsBuilt { get; init; }
    /// <summary>Compilations of the engine: one per program set added (a graph compilation each on hardware).</summary>
    public int EngineCompilations { get; init; }
    /// <summary>The launch: a reader tells a run of two instances from one process by it.</summary>
    public RunLaunch? Launch { get; init; }
    /// <summary>True when the run stopped early (Ctrl-C) after saving a checkpoint.</summary>
    public bool Interrupted { get; init; }
    /// <summary>Training prompts fed cut to model.source_length (an example counts each time it is fed).</summary>
    public long TruncatedSources { get; init; }
    /// <summary>Training targets fed cut to model.target_length.</summary>
    public long TruncatedTargets { get; init; }
    public IReadOnlyDictionary<string, SplitAccuracy> Accuracy { get; init; } = new Dictionary<string, SplitAccuracy>();
    /// <summary>Output name → path: metrics_jsonl, metrics_csv, loss_plot, config, checkpoint, eval_{split}, ...</summary>
    public IReadOnlyDictionary<string, string> Outputs { get; init; } = new Dictionary<string, string>();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes the file through a temporary name, so a reader never sees half a summary.</summary>
    public void Write(string path) => AtomicFile.WriteAllText(path, ToJson());

    public static RunSummary Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(path), JsonOptions)
                   ?? throw new InvalidDataException($"{path}: empty run summary");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a run summary: {e.Message}", e);
        }
    }
}
