using System.Text.Json.Nodes;

namespace FlanT5.Poplar.Configuration;

/// <summary>A resolved run config with the location that set each key (for messages and <c>config show</c>).</summary>
public sealed record LoadedRunConfig(RunConfig Config, IReadOnlyDictionary<string, ConfigLocation> Origins, string Source)
{
    /// <summary>Where <paramref name="key"/> was set; the built-in defaults when no file or override set it.</summary>
    public ConfigLocation OriginOf(string key) => Origins.TryGetValue(key, out var location) ? location : ConfigLocation.Default;
}

/// <summary>
/// Builds a <see cref="RunConfig"/>: built-in defaults (the tiny-emulator preset), then one YAML/JSON file or preset,
/// then <c>--set</c> overrides, then validation. Relative paths of what a run reads (model, data, checkpoint.load) are
/// relative to the directory of the file that names them; relative paths of what it writes (output.run_dir,
/// checkpoint.dir) are relative to the working directory, like every relative path in the defaults and in overrides.
/// Every error names the key and where it was set (file:line, or the --set argument).
/// </summary>
public static class RunConfigLoader
{
    /// <param name="configFile">A .yaml/.yml/.json file, or null.</param>
    /// <param name="preset">A preset name under configs/, or null (at most one of file and preset).</param>
    /// <param name="overrides">key=value strings, applied in order.</param>
    /// <param name="workingDirectory">Anchor for relative paths outside files and for the preset search.</param>
    public static LoadedRunConfig Load(string? configFile, string? preset, IEnumerable<string> overrides, string workingDirectory)
    {
        if (configFile is not null && preset is not null)
            throw new ArgumentException("give either --config FILE or --preset NAME, not both");
        var origins = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
        var config = BindDefaults(workingDirectory, origins);

        var source = "built-in defaults (tiny-emulator)";
        var file = configFile is not null ? Path.GetFullPath(configFile, workingDirectory)
            : preset is not null ? PresetLocator.Find(preset, workingDirectory) : null;
        if (file is not null)
        {
            var tree = ConfigDocumentReader.ReadFile(file);
            config = RunConfigSchema.Root.Bind(config, tree, "", new ConfigBindContext(Path.GetDirectoryName(file), origins) { OutputBaseDirectory = workingDirectory });
            source = file;
        }
        var overrideContext = new ConfigBindContext(workingDirectory, origins);
        foreach (var argument in overrides)
            config = RunConfigSchema.Root.Bind(config, ConfigOverride.Parse(argument).ToTree(), "", overrideContext);

        var loaded = new LoadedRunConfig(config, origins, source);
        ThrowIfInvalid(loaded);
        return loaded;
    }

    /// <summary>
    /// Reads a config saved as JSON text (a training checkpoint's copy) on top of the defaults and validates it;
    /// <paramref name="source"/> names it in errors. Relative paths stay as written.
    /// </summary>
    public static RunConfig ParseJson(string json, string source)
    {
        var origins = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
        var tree = ConfigDocumentReader.ReadJson(json, source);
        var config = RunConfigSchema.Root.Bind(RunConfig.Default, tree, "", new ConfigBindContext(null, origins));
        var loaded = new LoadedRunConfig(config, origins, source);
        ThrowIfInvalid(loaded);
        return config;
    }

    /// <summary>Reads one file on top of the defaults (no overrides).</summary>
    public static RunConfig LoadFile(string path) =>
        Load(path, null, [], Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".").Config;

    /// <summary>Throws <see cref="InvalidDataException"/> listing every problem with the place its key was set.</summary>
    public static void ThrowIfInvalid(LoadedRunConfig loaded) => ThrowIfAny(loaded, RunConfigValidator.Validate(loaded.Config));

    /// <summary>Throws <see cref="InvalidDataException"/> for <paramref name="problems"/>, each with its key's origin.</summary>
    public static void ThrowIfAny(LoadedRunConfig loaded, IReadOnlyList<ConfigProblem> problems)
    {
        if (problems.Count == 0) return;
        var lines = problems.Select(p =>
        {
            var line = $"{loaded.OriginOf(p.Key)}: {p.Key} {p.Message}";
            var related = p.RelatedKeys.Select(k => $"{k} from {loaded.OriginOf(k)}").ToList();
            return related.Count == 0 ? line : $"{line} ({string.Join("; ", related)})";
        });
        throw new InvalidDataException(string.Join(Environment.NewLine, lines));
    }

    /// <summary>The defaults as if read from a file in the working directory, so their paths become absolute too.</summary>
    private static RunConfig BindDefaults(string workingDirectory, Dictionary<string, ConfigLocation> origins)
    {
        var tree = ToTree(RunConfigSchema.Root.Write(RunConfig.Default), ConfigLocation.Default);
        return RunConfigSchema.Root.Bind(RunConfig.Default, tree, "", new ConfigBindContext(workingDirectory, origins));
    }

    private static ConfigNode ToTree(JsonNode? node, ConfigLocation location) => node switch
    {
        null => new ConfigScalar(null, ScalarStyle.Plain, location),
        JsonObject obj => new ConfigMap(obj.Select(p => new ConfigEntry(p.Key, ToTree(p.Value, location), location)).ToList(), location),
        JsonValue value when value.TryGetValue<string>(out var text) => new ConfigScalar(text, ScalarStyle.Quoted, location),
        _ => new ConfigScalar(node.ToJsonString(), ScalarStyle.Plain, location),
    };
}
