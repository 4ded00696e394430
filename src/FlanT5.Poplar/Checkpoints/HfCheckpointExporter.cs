using System.Text.Json;
using System.Text.Json.Nodes;

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
    /// <summary>Force each file to disk before returning.</summary>
    public bool FlushToDisk { get; init; } = true;
}

/// <summary>
/// Writes the Hugging Face hub layout: config.json, generation_config.json, model.safetensors (or
/// model-0000i-of-0000N.safetensors + model.safetensors.index.json), and the tokenizer files. Tensors are read
/// one at a time from an <see cref="IModelTensorSource"/> and written under their HF names, so the exported
/// keys are the ones that were loaded (SHARED: <c>shared.weight</c>; SEPARATE: both embed_tokens and the kept
/// <c>shared.weight</c>).
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
        if (source is HfCheckpoint loaded && SamePath(loaded.Directory, outputDirectory))
            throw new ArgumentException($"cannot export into {outputDirectory}: it is the folder the weights are being read from");
        Directory.CreateDirectory(outputDirectory);
        RemoveStaleWeights(outputDirectory);

        var shards = PlanShards(source.Tensors, options);
        var written = new List<string>();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        long totalBytes = 0;
        float[] buffer = [];
        for (int s = 0; s < shards.Count; s++)
        {
            string fileName = shards.Count == 1 ? "model.safetensors" : $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
            string path = Path.Combine(outputDirectory, fileName);
            var specs = shards[s].Select(t => new SafetensorsTensorSpec(t.Name, options.DType, t.Shape)).ToList();
            using (var writer = new SafetensorsWriter(path, specs, FormatMetadata))
            {
                foreach (var t in shards[s])
                {
                    int n = checked((int)t.ElementCount);
                    if (buffer.Length < n) buffer = new float[n];
                    var values = buffer.AsSpan(0, n);
                    source.ReadTensor(t.Name, values);
                    writer.WriteTensor(t.Name, values);
                    weightMap[t.Name] = fileName;
                    totalBytes += n * (long)options.DType.ElementSize();
                }
                writer.Complete(options.FlushToDisk);
            }
            written.Add(path);
        }
        if (shards.Count > 1) SafetensorsIndex.Write(Path.Combine(outputDirectory, SafetensorsIndex.FileName), weightMap, totalBytes);

        var config = source.Config.ToHfJson();
        config["dtype"] = options.DType switch
        {
            SafetensorsDType.BF16 => "bfloat16",
            SafetensorsDType.F16 => "float16",
            _ => "float32",
        };
        config.Remove("torch_dtype");
        WriteJson(Path.Combine(outputDirectory, "config.json"), config);
        WriteGenerationConfig(source, outputDirectory, options.TokenizerSource);
        CopyTokenizer(options.TokenizerSource, outputDirectory);
        return written;
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

    private static void RemoveStaleWeights(string directory)
    {
        // Shards of an earlier export would otherwise sit next to the new ones and confuse loaders.
        foreach (var file in Directory.EnumerateFiles(directory, "model*.safetensors"))
        {
            var name = Path.GetFileName(file);
            if (name == "model.safetensors" || System.Text.RegularExpressions.Regex.IsMatch(name, @"^model-\d{5}-of-\d{5}\.safetensors$"))
                File.Delete(file);
        }
        File.Delete(Path.Combine(directory, SafetensorsIndex.FileName));
    }

    private static void WriteGenerationConfig(IModelTensorSource source, string outputDirectory, string? from)
    {
        var target = Path.Combine(outputDirectory, "generation_config.json");
        var existing = from is null ? null : Path.Combine(from, "generation_config.json");
        if (existing is not null && File.Exists(existing))
        {
            if (!SamePath(existing, target)) File.Copy(existing, target, overwrite: true);
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

    private static void CopyTokenizer(string? from, string outputDirectory)
    {
        if (from is null) return;
        foreach (var name in TokenizerFiles)
        {
            var file = Path.Combine(from, name);
            var target = Path.Combine(outputDirectory, name);
            if (File.Exists(file) && !SamePath(file, target)) File.Copy(file, target, overwrite: true);
        }
    }

    private static bool SamePath(string a, string b) => Path.GetFullPath(a) == Path.GetFullPath(b);

    private static void WriteJson(string path, JsonNode node) =>
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
