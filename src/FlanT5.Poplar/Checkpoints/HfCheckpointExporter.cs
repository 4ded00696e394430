using System.Text.Json;
using System.Text.Json.Nodes;
using FlanT5.Poplar.Files;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>Options of <see cref="HfCheckpointExporter.Export"/>.</summary>
public sealed record HfExportOptions
{
    /// <summary>Stored dtype: F32 (bit-exact), BF16 or F16 (round to nearest even).</summary>
    public SafetensorsDType DType { get; init; } = SafetensorsDType.F32;
    /// <summary>Largest shard in bytes of tensor data, as Hugging Face counts it (default 5 GB = 5·10⁹).</summary>
    public long MaxShardBytes { get; init; } = 5_000_000_000;
    /// <summary>Folder to copy tokenizer files and generation_config.json from (usually the model loaded).</summary>
    public string? TokenizerSource { get; init; }
    /// <summary>Folders the weights are read from: an output that is one of them, or holds one, is refused.</summary>
    public IReadOnlyList<string> SourceFolders { get; init; } = [];
    /// <summary>Force each file to disk before returning.</summary>
    public bool FlushToDisk { get; init; } = true;
    /// <summary>Told what the export changed that the caller should know (values that overflowed the dtype).</summary>
    public Action<string>? Warning { get; init; }
}

/// <summary>
/// Writes the Hugging Face hub layout: config.json, generation_config.json, model.safetensors (or
/// model-0000i-of-0000N.safetensors + model.safetensors.index.json), and the tokenizer files. Tensors are read
/// one at a time from an <see cref="IModelTensorSource"/> and written under their HF names, so the exported
/// keys are the ones that were loaded (SHARED: <c>shared.weight</c>; SEPARATE: both embed_tokens and the kept
/// <c>shared.weight</c>). The whole export is written into a staging folder beside the output and swapped in
/// (<see cref="AtomicDirectory"/>): a failure leaves a previous export untouched, a first export leaves nothing, and
/// links planted in the output are never written through. Files of the output folder the export does not write (a
/// README, .git) are kept; weights and index files of the previous export are not.
/// </summary>
public static class HfCheckpointExporter
{
    public static readonly string[] TokenizerFiles = ["spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    private static readonly IReadOnlyDictionary<string, string> FormatMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>Exports <paramref name="source"/> into <paramref name="outputDirectory"/>; returns the safetensors files written.</summary>
    public static IReadOnlyList<string> Export(IModelTensorSource source, string outputDirectory, HfExportOptions? options = null)
    {
        options ??= new HfExportOptions();
        if (options.DType is not (SafetensorsDType.F32 or SafetensorsDType.BF16 or SafetensorsDType.F16))
            throw new ArgumentException($"export dtype {options.DType.HeaderName()} is not supported; expected F32, BF16 or F16");
        if (options.MaxShardBytes <= 0) throw new ArgumentException("max shard size must be positive");
        var inputs = options.SourceFolders.Select(f => ((string?)f, "the folder the weights are read from")).ToList();
        if (source is HfCheckpoint loaded) inputs.Add((loaded.Directory, "the folder the weights are read from"));
        inputs.Add((options.TokenizerSource, "the folder the tokenizer files are copied from"));
        PathOverlap.ThrowIfOutputHoldsInput(outputDirectory, "the export folder", inputs);

        // The output itself may be a link the user gave (models/current → models/v3): the export replaces the folder
        // it points at, and the link stays.
        var output = PathOverlap.Canonical(outputDirectory);
        RemoveLeftovers(output);
        bool replacing = Directory.Exists(output);
        using var staging = new AtomicDirectory(output);
        string writing = "";
        try
        {
            var written = WriteFiles(source, staging.StagingPath, options, name => writing = name);
            writing = "(swapping the new export in)";
            staging.Commit(carryOver: name => !IsWeightsFile(name));
            return written.Select(name => Path.Combine(outputDirectory, name)).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"export to {outputDirectory} failed while writing {writing}: {e.Message}; " +
                (replacing ? "the previous export there is untouched" : "nothing was written there"), e);
        }
    }

    /// <summary>Writes every file of the export into <paramref name="directory"/>; returns the safetensors names.</summary>
    private static List<string> WriteFiles(IModelTensorSource source, string directory, HfExportOptions options, Action<string> writing)
    {
        var shards = PlanShards(source.Tensors, options);
        var written = new List<string>();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        long totalBytes = 0;
        float[] buffer = [];
        float overflowAt = OverflowThreshold(options.DType);
        for (int s = 0; s < shards.Count; s++)
        {
            string fileName = shards.Count == 1 ? "model.safetensors" : $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
            writing(fileName);
            var specs = shards[s].Select(t => new SafetensorsTensorSpec(t.Name, options.DType, t.Shape)).ToList();
            using (var writer = new SafetensorsWriter(Path.Combine(directory, fileName), specs, FormatMetadata))
            {
                foreach (var t in shards[s])
                {
                    int n = checked((int)t.ElementCount);
                    if (buffer.Length < n) buffer = new float[n];
                    var values = buffer.AsSpan(0, n);
                    source.ReadTensor(t.Name, values);
                    if (options.Warning is { } warn && CountOverflows(values, overflowAt, out float largest) is > 0 and var count)
                        warn($"{t.Name}: {count} value(s) beyond the {options.DType.HeaderName()} range (largest magnitude {largest:G6}) became infinite");
                    writer.WriteTensor(t.Name, values);
                    weightMap[t.Name] = fileName;
                    totalBytes += n * (long)options.DType.ElementSize();
                }
                writer.Complete(options.FlushToDisk);
            }
            written.Add(fileName);
        }
        if (shards.Count > 1)
        {
            writing(SafetensorsIndex.FileName);
            SafetensorsIndex.Write(Path.Combine(directory, SafetensorsIndex.FileName), weightMap, totalBytes);
        }

        var config = source.Config.ToHfJson();
        config["dtype"] = options.DType switch
        {
            SafetensorsDType.BF16 => "bfloat16",
            SafetensorsDType.F16 => "float16",
            _ => "float32",
        };
        config.Remove("torch_dtype");
        writing("config.json");
        WriteJson(Path.Combine(directory, "config.json"), config);
        writing("generation_config.json");
        WriteGenerationConfig(source, directory, options.TokenizerSource);
        if (options.TokenizerSource is { } from)
        {
            foreach (var name in TokenizerFiles)
            {
                var file = Path.Combine(from, name);
                writing(name);
                if (File.Exists(file)) File.Copy(file, Path.Combine(directory, name), overwrite: false);
            }
        }
        return written;
    }

    /// <summary>Weights and index files: those of a previous export must not survive next to the new ones.</summary>
    private static bool IsWeightsFile(string name) =>
        name is "model.safetensors" || name == SafetensorsIndex.FileName
        || System.Text.RegularExpressions.Regex.IsMatch(name, @"^model-\d{5}-of-\d{5}\.safetensors$");

    /// <summary>Staging folders of exports that were killed before they finished.</summary>
    private static void RemoveLeftovers(string output)
    {
        var parent = Path.GetDirectoryName(output);
        if (parent is null || !Directory.Exists(parent)) return;
        foreach (var dir in Directory.EnumerateDirectories(parent))
        {
            if (!AtomicDirectory.IsStagingNameFor(Path.GetFileName(dir), Path.GetFileName(output))) continue;
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another writer's, or not ours to remove: left as it is.
            }
        }
    }

    /// <summary>The smallest fp32 magnitude that rounds to infinity in <paramref name="dtype"/>.</summary>
    private static float OverflowThreshold(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F16 => 65520f,                                  // halfway between 65504 and 2^16
        SafetensorsDType.BF16 => BitConverter.Int32BitsToSingle(0x7F7F8000), // halfway past bf16's largest finite
        _ => float.PositiveInfinity,
    };

    private static int CountOverflows(ReadOnlySpan<float> values, float threshold, out float largest)
    {
        int count = 0;
        largest = 0;
        if (float.IsPositiveInfinity(threshold)) return 0;
        foreach (var v in values)
        {
            float magnitude = MathF.Abs(v);
            if (magnitude >= threshold && float.IsFinite(magnitude))
            {
                count++;
                largest = MathF.Max(largest, magnitude);
            }
        }
        return count;
    }

    /// <summary>Groups tensors into shards as Hugging Face does: start a new shard when the next tensor would overflow.</summary>
    internal static List<List<TensorEntry>> PlanShards(IReadOnlyList<TensorEntry> tensors, HfExportOptions options)
    {
        var shards = new List<List<TensorEntry>> { new() };
        long size = 0;
        foreach (var t in tensors)
        {
            long bytes = t.ElementCount * options.DType.ElementSize();
            if (shards[^1].Count > 0 && size + bytes > options.MaxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(t);
            size += bytes;
        }
        return shards;
    }

    private static void WriteGenerationConfig(IModelTensorSource source, string outputDirectory, string? from)
    {
        var target = Path.Combine(outputDirectory, "generation_config.json");
        var existing = from is null ? null : Path.Combine(from, "generation_config.json");
        if (existing is not null && File.Exists(existing))
        {
            File.Copy(existing, target, overwrite: false);
            return;
        }
        WriteJson(target, new JsonObject
        {
            ["_from_model_config"] = true,
            ["decoder_start_token_id"] = source.Config.DecoderStartTokenId,
            ["eos_token_id"] = source.Config.EosTokenId,
            ["pad_token_id"] = source.Config.PadTokenId,
        });
    }

    private static void WriteJson(string path, JsonNode node)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        stream.Write(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"));
    }
}
