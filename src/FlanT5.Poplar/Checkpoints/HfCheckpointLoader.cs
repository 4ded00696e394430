using System.Text;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// Opens a Hugging Face T5 checkpoint folder (config.json + safetensors, single or sharded) and maps its keys to
/// the session's parameters. Embeddings: <c>shared.weight</c> and the <c>embed_tokens</c> aliases absent or
/// bit-identical → one shared matrix (<see cref="EmbeddingLayout.Shared"/>); present and different → separate
/// matrices, with <c>shared.weight</c> kept to export back. Missing, unexpected and wrongly shaped keys are
/// reported together in one <see cref="InvalidDataException"/>.
/// </summary>
public static class HfCheckpointLoader
{
    public static HfCheckpoint Open(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: no such folder (expected a Hugging Face T5 checkpoint)");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: no config.json", configPath);
        var config = T5ModelConfig.Load(configPath);
        // The flan-t5 hub index lists embed_tokens aliases its files do not hold; those are aliases, not data.
        var files = SafetensorsFileSet.Open(directory, HfParameterMap.IsEmbeddingAlias);
        try
        {
            return Map(directory, config, files);
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    private static HfCheckpoint Map(string directory, T5ModelConfig config, SafetensorsFileSet files)
    {
        var missing = new List<string>();
        var wrongShape = new List<string>();
        var wrongDType = new List<string>();
        var present = new HashSet<string>(files.Names, StringComparer.Ordinal);
        // Before listing every key the config implies (a config.json claiming a million layers would take that long):
        // the files must hold as many blocks as it says.
        foreach (var (stack, key, layers) in new[] { ("encoder", "num_layers", config.NumLayers), ("decoder", "num_decoder_layers", config.NumDecoderLayers) })
        {
            int held = BlocksHeld(present, stack);
            if (layers > held)
                throw new InvalidDataException($"{directory}: config.json says {key} {layers}, but {files.Source} holds {held} {stack} block(s)");
        }
        var expectedShapes = HfParameterMap.FullStateDictKeys(config).ToDictionary(k => k.Name, k => k.Shape, StringComparer.Ordinal);
        var unexpected = files.Names.Where(n => !expectedShapes.ContainsKey(n)).ToList();
        foreach (var name in files.Names.Where(expectedShapes.ContainsKey))
        {
            var info = files.Info(name);
            if (!ShapeMath.SameShape(info.Shape, expectedShapes[name]))
                wrongShape.Add($"{name}: {info.ShapeText}, expected {ShapeMath.Format(expectedShapes[name])}");
            if (!info.DType.IsFloatingConvertible())
                wrongDType.Add($"{name}: {info.DType.HeaderName()}");
        }

        // Which embedding keys exist with the right shape, and are they one matrix?
        string[] embeddingKeys = [HfParameterMap.SharedEmbedding, HfParameterMap.EncoderEmbedding, HfParameterMap.DecoderEmbedding];
        var usable = embeddingKeys.Where(k => present.Contains(k) && ShapeMath.SameShape(files.Info(k).Shape, expectedShapes[k])).ToList();
        bool anyEmbedding = embeddingKeys.Any(present.Contains);
        if (!anyEmbedding) missing.Add(HfParameterMap.SharedEmbedding);
        bool allIdentical = usable.Count > 0 && usable.Skip(1).All(k => files.BytesEqual(usable[0], k));
        var layout = allIdentical || usable.Count == 0 ? EmbeddingLayout.Shared : EmbeddingLayout.Separate;

        var map = HfParameterMap.Create(config, layout);
        var fileKey = new Dictionary<string, string>(StringComparer.Ordinal);
        var exportOnly = new List<string>();
        if (layout == EmbeddingLayout.Shared)
        {
            if (usable.Count > 0) fileKey[HfParameterMap.SharedEmbedding] = usable[0];
        }
        else
        {
            // An absent alias stands for shared.weight, as transformers ties it.
            string Source(string alias) => present.Contains(alias) ? alias : HfParameterMap.SharedEmbedding;
            fileKey[HfParameterMap.EncoderEmbedding] = Source(HfParameterMap.EncoderEmbedding);
            fileKey[HfParameterMap.DecoderEmbedding] = Source(HfParameterMap.DecoderEmbedding);
            if (present.Contains(HfParameterMap.SharedEmbedding))
            {
                exportOnly.Add(HfParameterMap.SharedEmbedding);
                fileKey[HfParameterMap.SharedEmbedding] = HfParameterMap.SharedEmbedding;
            }
        }

        foreach (var spec in map.Parameters.Where(p => !HfParameterMap.IsEmbeddingAlias(p.Name) && p.Name != HfParameterMap.SharedEmbedding))
        {
            if (present.Contains(spec.Name)) fileKey[spec.Name] = spec.Name;
            else missing.Add(spec.Name);
        }
        if (config.TieWordEmbeddings && present.Contains(HfParameterMap.LmHead))
        {
            // Tied: lm_head is the embedding. A copy of it is harmless; a different matrix would be silently dropped.
            if (usable.Count == 0 || !files.BytesEqual(usable[0], HfParameterMap.LmHead))
                unexpected.Add($"{HfParameterMap.LmHead} (config ties word embeddings, but the file's lm_head differs from the embedding)");
        }

        if (missing.Count + unexpected.Count + wrongShape.Count + wrongDType.Count > 0)
        {
            var message = new StringBuilder($"{files.Source}: the checkpoint does not match config.json ({config.NumLayers}+{config.NumDecoderLayers} layers, d_model {config.DModel}, vocab {config.VocabSize}):");
            Append(message, "missing keys", missing);
            Append(message, "unexpected keys", unexpected);
            Append(message, "wrong shapes", wrongShape);
            Append(message, "unsupported dtypes (expected F32, F16, BF16)", wrongDType);
            throw new InvalidDataException(message.ToString());
        }
        return new HfCheckpoint(directory, config, layout, files, fileKey, exportOnly);
    }

    /// <summary>1 + the highest <c>{stack}.block.N</c> index among the tensor names.</summary>
    private static int BlocksHeld(IEnumerable<string> names, string stack)
    {
        var prefix = $"{stack}.block.";
        int blocks = 0;
        foreach (var name in names)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int end = name.IndexOf('.', prefix.Length);
            if (end > prefix.Length && int.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var index) && index < int.MaxValue)
                blocks = Math.Max(blocks, index + 1);
        }
        return blocks;
    }

    private static void Append(StringBuilder message, string title, List<string> items)
    {
        if (items.Count == 0) return;
        const int shown = 20;
        message.Append($"\n  {title} ({items.Count}): {string.Join(", ", items.Take(shown))}");
        if (items.Count > shown) message.Append($", … and {items.Count - shown} more");
    }
}
