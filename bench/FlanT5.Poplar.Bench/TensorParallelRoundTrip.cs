using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// The checkpoint as the exporter reads it (fp32, tensor by tensor), passed through the device layout: each tensor is
/// sharded, joined back and checked before it is handed on (checkpoint-stream --output).
/// </summary>
internal sealed class TensorParallelRoundTrip(HfCheckpoint checkpoint, int tp) : IModelTensorSource, IDisposable
{
    private readonly Dictionary<string, int> _position = checkpoint.Tensors.Select((t, i) => (t.Name, i)).ToDictionary(p => p.Name, p => p.i);
    private float[] _original = [];
    private readonly HugePageBuffer _windows = new(4L * ShardRoundTrip.WindowElements<float>() * Environment.ProcessorCount);
    private HugePageBuffer? _shards;
    private long _shardStride;

    public int Verified { get; private set; }
    public double ReadSeconds { get; private set; }
    public T5ModelConfig Config => checkpoint.Config;
    public EmbeddingLayout Layout => checkpoint.Layout;
    public IReadOnlyList<TensorEntry> Tensors => checkpoint.Tensors;

    public void ReadTensor(string name, Span<float> destination)
    {
        // Let the kernel read the next tensors while this one is converted.
        int position = _position[name];
        for (int ahead = 1; ahead <= 2 && position + ahead < Tensors.Count; ahead++) checkpoint.Prefetch(Tensors[position + ahead].Name);

        int n = destination.Length;
        if (_original.Length < n) _original = new float[n];
        var original = _original.AsSpan(0, n);
        long t0 = Stopwatch.GetTimestamp();
        checkpoint.ReadTensor(name, original);
        ReadSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        if (!checkpoint.Map.TryGet(name, out var spec))
        {
            original.CopyTo(destination); // export-only tensors never reach the device
            return;
        }
        int shardElements = (int)ShapeMath.ElementCount(TensorParallelSharder.ShardShape(spec, tp));
        if (_shards is null || _shardStride < shardElements)
        {
            _shards?.Dispose();
            _shards = new HugePageBuffer(4L * shardElements * tp);
            _shardStride = shardElements;
        }
        ShardRoundTrip.Piece<float>(spec, tp, original, 0, _shards.Address, _shardStride, _windows.Address, destination, Environment.ProcessorCount);
        Verified++;
    }

    public void Dispose()
    {
        _shards?.Dispose();
        _windows.Dispose();
    }
}
