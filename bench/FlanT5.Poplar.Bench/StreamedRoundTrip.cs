using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// The conversion of checkpoint-stream: every tensor of <paramref name="checkpoint"/> arrives from
/// <see cref="HfCheckpoint.StreamTensors"/> as a span over its read buffer (stored 2-byte elements: the layout does not
/// depend on the dtype), and its ranks are sharded, joined back and checked on all cores while the stream reads the
/// next tensors (<see cref="ShardRoundTrip"/>); each joined-back block is checked in a small per-thread window and
/// dropped. Shard buffers are allocated once, for the largest tensor.
/// </summary>
internal sealed class StreamedRoundTrip(HfCheckpoint checkpoint, int tp, FileStreamingOptions options)
{
    public int Verified { get; private set; }
    public bool Direct { get; private set; }
    public double WaitSeconds { get; private set; }
    public double WorkSeconds { get; private set; }
    public long ReadBufferBytes { get; private set; }
    public long ShardBufferBytes { get; private set; }

    public void Run()
    {
        var stored = checkpoint.Tensors.Select(t => checkpoint.Files.Info(checkpoint.FileKey(t.Name)).DType).Distinct().ToList();
        if (stored.Any(d => d.ElementSize() != 2))
            throw new InvalidDataException($"checkpoint-stream converts 2-byte checkpoints (bf16, fp16) as stored; {checkpoint.Directory} holds {string.Join(", ", stored)}");
        long largest = checkpoint.Tensors.Max(t => t.ElementCount);
        long largestShard = checkpoint.Map.Parameters.Max(p => ShapeMath.ElementCount(TensorParallelSharder.ShardShape(p, tp)));
        // Native huge-page buffers: a few hundred page faults for the whole run instead of one per 4 KiB.
        using var windows = new HugePageBuffer(2L * ShardRoundTrip.WindowElements<ushort>() * Environment.ProcessorCount);
        using var shardMemory = new HugePageBuffer(2 * largestShard * tp);
        ShardBufferBytes = shardMemory.Length;

        using var stream = checkpoint.StreamTensors(options);
        ReadBufferBytes = stream.BufferBytes;
        Direct = stream.Direct;
        while (true)
        {
            long t0 = Stopwatch.GetTimestamp();
            if (!stream.MoveNext()) break;
            long t1 = Stopwatch.GetTimestamp();
            WaitSeconds += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
            var original = stream.Elements<ushort>();
            var name = stream.Current.Name;
            if (checkpoint.Map.TryGet(name, out var spec)) // export-only tensors never reach the device
            {
                ShardRoundTrip.Tensor(spec, tp, original, shardMemory.Address, largestShard, windows.Address, [], Environment.ProcessorCount);
                Verified++;
            }
            WorkSeconds += Stopwatch.GetElapsedTime(t1).TotalSeconds;
        }
    }
}
