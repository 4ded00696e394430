using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Configuration;

/// <summary>Writes a run config as YAML or JSON with the snake_case keys it is read with, plus the derived values.</summary>
public static class RunConfigWriter
{
    public static JsonObject ToJsonObject(RunConfig config, bool includeDerived)
    {
        var obj = RunConfigSchema.Root.Write(config);
        if (includeDerived) obj["derived"] = Derived(config);
        return obj;
    }

    /// <summary>The values computed from the config (read-only: a file that sets them is rejected).</summary>
    public static JsonObject Derived(RunConfig config) => new()
    {
        ["gradient_accumulation"] = config.GradientAccumulation,
        ["ipus_per_replica"] = config.IpusPerReplica,
        ["ipus"] = config.Ipus,
        ["replicas_per_instance"] = config.ReplicasPerInstance,
        ["total_samples"] = config.TotalSamples,
        ["checkpoint_dir"] = config.CheckpointDirectory,
    };

    public static string ToJson(RunConfig config, bool includeDerived) =>
        ToJsonObject(config, includeDerived).ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static string ToYaml(RunConfig config, bool includeDerived)
    {
        var builder = new StringBuilder();
        WriteYaml(builder, ToJsonObject(config, includeDerived), 0);
        return builder.ToString();
    }

    /// <summary>Block-style YAML; strings are double-quoted with JSON escapes (valid YAML), numbers round-trip.</summary>
    private static void WriteYaml(StringBuilder builder, JsonObject obj, int indent)
    {
        foreach (var (key, value) in obj)
        {
            builder.Append(' ', indent).Append(key).Append(':');
            if (value is JsonObject child)
            {
                builder.Append('\n');
                WriteYaml(builder, child, indent + 2);
            }
            else
            {
                builder.Append(' ').Append(Scalar(value)).Append('\n');
            }
        }
    }

    private static string Scalar(JsonNode? value)
    {
        if (value is null) return "null";
        var json = (JsonValue)value;
        if (json.TryGetValue<double>(out var d)) return d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        if (json.TryGetValue<string>(out var text) && PlainSafe(text)) return text;
        return json.ToJsonString();
    }

    /// <summary>Words and paths that YAML reads back as the same string when unquoted.</summary>
    private static bool PlainSafe(string text) =>
        text.Length > 0 && (char.IsAsciiLetter(text[0]) || text[0] is '/' or '.' or '_')
        && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-')
        && text.ToLowerInvariant() is not ("true" or "false" or "null" or "yes" or "no" or "on" or "off" or ".nan" or ".inf");
}
