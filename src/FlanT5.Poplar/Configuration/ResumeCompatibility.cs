using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Configuration;

/// <summary>
/// Whether a training checkpoint belongs to the run about to continue from it: the keys that decide what is trained
/// on what — the model, the data, the batch, the optimizer and schedule, the placement — must be the same. Keys that
/// may change between an interrupted run and its continuation (where outputs and checkpoints go, threads, the host
/// instances the replicas are shared by, inference settings, the evaluation files, and the number of steps unless the
/// schedule depends on it) are not compared.
/// </summary>
public static class ResumeCompatibility
{
    private static readonly string[] FreeKeys =
    [
        "output.run_dir", "checkpoint.dir", "checkpoint.every", "checkpoint.keep", "checkpoint.load", "execution.threads",
        "execution.instances",
    ];

    private static readonly string[] FreePrefixes = ["inference.", "data.eval."];

    /// <summary>One line per differing key: <c>key: checkpoint X, this run Y</c>; empty when they match.</summary>
    public static IReadOnlyList<string> Differences(RunConfig checkpoint, RunConfig current)
    {
        var saved = Flatten(RunConfigSchema.Root.Write(checkpoint));
        var now = Flatten(RunConfigSchema.Root.Write(current));
        bool stepsMatter = current.Training.LearningRate.Schedule != LearningRateScheduleKind.ConstantAfterWarmup
                           || checkpoint.Training.LearningRate.Schedule != LearningRateScheduleKind.ConstantAfterWarmup;
        var lines = new List<string>();
        foreach (var key in saved.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            if (FreeKeys.Contains(key) || FreePrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal))) continue;
            if (key == "training.steps" && !stepsMatter) continue;
            var a = saved.GetValueOrDefault(key, "(absent)");
            var b = now.GetValueOrDefault(key, "(absent)");
            if (a != b)
                lines.Add($"{key}: checkpoint {a}, this run {b}" +
                          (key == "training.steps" ? " (the learning-rate schedule decays over the steps)" : ""));
        }
        return lines;
    }

    private static Dictionary<string, string> Flatten(JsonObject root)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        void Walk(JsonNode? node, string prefix)
        {
            if (node is JsonObject obj)
            {
                foreach (var (key, child) in obj) Walk(child, prefix.Length == 0 ? key : $"{prefix}.{key}");
                return;
            }
            values[prefix] = node is null ? "null"
                : node is JsonValue v && v.TryGetValue<string>(out var text) && IsPath(prefix) ? Path.GetFullPath(text)
                : node.ToJsonString();
        }
        Walk(root, "");
        return values;
    }

    private static bool IsPath(string key) => key is "model.checkpoint" or "data.train";
}
