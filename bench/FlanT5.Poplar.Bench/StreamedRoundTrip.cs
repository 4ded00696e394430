using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// The conversion of checkpoint-stream: every tensor of <paramref name="checkpoint"/> arrives from
/// <see cref="HfCheckpoint.StreamTensors"/> as a span over its read buffer (stored elements: the layout does not
/// depend on the dtype; the largest in pieces of whole rows), and is sharded, joined back and checked on all cores while the stream reads the
/// next tensors (<see cref="ShardRoundTrip"/>); each joined-back block is checked in a small per-thread window and
/// dropped. Shard buffers are allocated once, for the largest tensor.
/// </summary>
internal sealed class StreamedRoundTrip(HfCheckpoint checkpoint, int tp, FileStreamingOptions options, int threads)
{
    public int Verified { get; private set; }
    public bool Direct { get; private set; }
    public double WaitSeconds { get; private set; }
    public double FirstWaitSeconds { get; private set; }
    public double WorkSeconds { get; private set; }
    public long ReadBufferBytes { get; private set; }
    public long ShardBufferBytes { get; private set; }

    public void Run()
    {
        int widest = checkpoint.Tensors.Max(t => checkpoint.Files.Info(checkpoint.FileKey(t.Name)).DType.ElementSize());
        long largestShard = checkpoint.Map.Parameters.Max(p => ShapeMath.ElementCount(TensorParallelSharder.ShardShape(p, tp)));
        // Native huge-page buffers: a few hundred page faults for the whole run instead of one per 4 KiB.
        using var windows = new HugePageBuffer((long)ShardRoundTrip.WindowElements<byte>() * threads);
        using var shardMemory = new HugePageBuffer(widest * largestShard * tp);
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
            if (FirstWaitSeconds == 0) FirstWaitSeconds = WaitSeconds;
            if (checkpoint.Map.TryGet(stream.Current.Name, out var spec)) // export-only tensors never reach the device
            {
                // The layout depends on the element size only: elements travel as stored, as same-sized integers.
                switch (stream.Current.Info.DType.ElementSize())
                {
                    case 2: ShardRoundTrip.Piece(spec, tp, stream.Elements<ushort>(), stream.PieceStart, shardMemory.Address, largestShard, windows.Address, [], threads); break;
                    case 4: ShardRoundTrip.Piece(spec, tp, stream.Elements<uint>(), stream.PieceStart, shardMemory.Address, largestShard, windows.Address, [], threads); break;
                    case 8: ShardRoundTrip.Piece(spec, tp, stream.Elements<ulong>(), stream.PieceStart, shardMemory.Address, largestShard, windows.Address, [], threads); break;
                    default: throw new InvalidDataException($"'{spec.Name}' has dtype {stream.Current.Info.DType.HeaderName()}, which is not a float type");
                }
                if (stream.IsLastPiece) Verified++;
            }
            WorkSeconds += Stopwatch.GetElapsedTime(t1).TotalSeconds;
        }
    }
}
