using System.Runtime.InteropServices;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// Writes a synthetic Flan-T5 checkpoint shaped like the hub's (T5ModelConfig.FlanT5(size) keys and shapes,
/// random bf16 values, shards of at most --max-shard-size, an index that also lists the embed_tokens aliases the
/// files lack, as google/flan-t5-xl's does).
/// </summary>
internal static class CheckpointGenerateMode
{
    public static int Run(BenchOptions options)
    {
        var dir = options.Require("dir");
        var size = options.Get("size") ?? "xl";
        long maxShard = ByteSize.Parse(options.Get("max-shard-size") ?? "5GB");
        var config = T5ModelConfig.FlanT5(size);
        var map = HfParameterMap.Create(config, EmbeddingLayout.Shared);
        var entries = map.Parameters.Select(p => new TensorEntry(p.Name, p.Shape)).ToList();
        var shards = HfCheckpointExporter.PlanShards(entries, new HfExportOptions { DType = SafetensorsDType.BF16, MaxShardBytes = maxShard });
        Directory.CreateDirectory(dir);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ulong state = (ulong)options.Int("seed", 1) * 0x9E3779B97F4A7C15UL | 1;
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        byte[] buffer = [];
        for (int s = 0; s < shards.Count; s++)
        {
            string file = shards.Count == 1 ? "model.safetensors" : $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
            var specs = shards[s].Select(t => new SafetensorsTensorSpec(t.Name, SafetensorsDType.BF16, t.Shape)).ToList();
            using var writer = new SafetensorsWriter(Path.Combine(dir, file), specs, new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var spec in specs)
            {
                int bytes = checked((int)spec.ByteLength);
                if (buffer.Length < bytes) buffer = new byte[bytes];
                FillRandomBf16(MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan(0, bytes)), ref state);
                writer.WriteTensorBytes(spec.Name, buffer.AsSpan(0, bytes));
                weightMap[spec.Name] = file;
                total += bytes;
            }
            writer.Complete();
            Console.WriteLine($"wrote {file} ({new FileInfo(Path.Combine(dir, file)).Length / 1e9:F2} GB)");
        }
        if (shards.Count > 1)
        {
            weightMap[HfParameterMap.EncoderEmbedding] = weightMap[HfParameterMap.SharedEmbedding];
            weightMap[HfParameterMap.DecoderEmbedding] = weightMap[HfParameterMap.SharedEmbedding];
            SafetensorsIndex.Write(Path.Combine(dir, SafetensorsIndex.FileName), weightMap, total);
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToHfJson().ToJsonString() + "\n");
        Console.WriteLine($"flan-t5-{size}: {map.Parameters.Sum(p => p.ElementCount) / 1e9:F3} B parameters, {total / 1e9:F2} GB bf16 in {shards.Count} file(s), {watch.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>bf16 values of magnitude ~2^-8 … 2^0 with random sign and mantissa (xorshift64*).</summary>
    private static void FillRandomBf16(Span<ushort> values, ref ulong state)
    {
        for (int i = 0; i < values.Length; i += 4)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            ulong r = state * 0x2545F4914F6CDD1DUL;
            for (int k = 0; k < 4 && i + k < values.Length; k++)
            {
                uint bits = (uint)(r >> (16 * k)) & 0xFFFF;
                uint sign = bits & 0x8000;
                uint exponent = 119u + ((bits >> 7) & 7);
                values[i + k] = (ushort)(sign | (exponent << 7) | (bits & 0x7F));
            }
        }
    }
}
