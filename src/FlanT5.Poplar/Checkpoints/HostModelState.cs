using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A tensor held on the host: shape and fp32 values, row-major.</summary>
public sealed record HostTensor(int[] Shape, float[] Data)
{
    public static HostTensor Zeros(int[] shape) => new(shape, new float[ShapeMath.ElementCount(shape)]);

    /// <summary>Copies the values into <paramref name="destination"/>, which must hold exactly as many
    /// (<paramref name="name"/> is for the error).</summary>
    public void CopyTo(string name, Span<float> destination)
    {
        if (destination.Length != Data.Length)
            throw new ArgumentException($"tensor '{name}' has {Data.Length} values, destination holds {destination.Length}");
        Data.CopyTo(destination);
    }
}

/// <summary>
/// Model weights in host memory under Hugging Face names: the session parameters plus tensors kept only to be
/// exported back (the unused <c>shared.weight</c> of an untied transformers-5 save).
/// </summary>
public sealed class HostModelState : IModelTensorSource
{
    private readonly Dictionary<string, HostTensor> _tensors;
    private readonly List<TensorEntry> _entries;

    public T5ModelConfig Config { get; }
    public EmbeddingLayout Layout { get; }
    public HfParameterMap Map { get; }
    public IReadOnlyList<TensorEntry> Tensors => _entries;
    /// <summary>Names of the tensors that are not session parameters.</summary>
    public IReadOnlyList<string> ExportOnly { get; }

    public HostModelState(T5ModelConfig config, EmbeddingLayout layout, IReadOnlyDictionary<string, HostTensor> parameters,
        IReadOnlyDictionary<string, HostTensor>? exportOnly = null)
    {
        Config = config;
        Layout = layout;
        Map = HfParameterMap.Create(config, layout);
        _tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        _entries = [];
        var problems = new List<string>();
        foreach (var spec in Map.Parameters)
        {
            if (!parameters.TryGetValue(spec.Name, out var t)) { problems.Add($"missing '{spec.Name}'"); continue; }
            if (!ShapeMath.SameShape(t.Shape, spec.Shape) || t.Data.LongLength != spec.ElementCount)
                problems.Add($"'{spec.Name}' is {ShapeMath.Format(t.Shape)} ({t.Data.LongLength} values), expected {ShapeMath.Format(spec.Shape)}");
            _tensors[spec.Name] = t;
            _entries.Add(new TensorEntry(spec.Name, spec.Shape));
        }
        foreach (var name in parameters.Keys.Where(n => !Map.TryGet(n, out _))) problems.Add($"unexpected '{name}'");
        var extra = new List<string>();
        foreach (var (name, t) in exportOnly ?? new Dictionary<string, HostTensor>())
        {
            if (_tensors.ContainsKey(name)) { problems.Add($"'{name}' is both a parameter and export-only"); continue; }
            _tensors[name] = t;
            _entries.Add(new TensorEntry(name, t.Shape));
            extra.Add(name);
        }
        if (problems.Count > 0)
            throw new ArgumentException($"model state does not match the {layout} parameter map: {string.Join("; ", problems)}");
        ExportOnly = extra;
    }

    public HostTensor this[string name] => _tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"no tensor '{name}'");

    public void ReadTensor(string name, Span<float> destination) => this[name].CopyTo(name, destination);

    /// <summary>Copies every tensor of <paramref name="source"/> into host memory.</summary>
    public static HostModelState ReadAll(IModelTensorSource source)
    {
        var map = HfParameterMap.Create(source.Config, source.Layout);
        var parameters = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var exportOnly = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        void Keep(string name, HostTensor t) => (map.TryGet(name, out _) ? parameters : exportOnly)[name] = t;
        if (source is HfCheckpoint checkpoint)
        {
            // A whole checkpoint: stream it in file order rather than map it tensor by tensor.
            using var stream = checkpoint.StreamTensors();
            HostTensor? current = null;
            while (stream.MoveNext())
            {
                if (stream.PieceStart == 0) Keep(stream.Current.Name, current = HostTensor.Zeros(stream.Current.Info.Shape));
                stream.ReadFloat32(current!.Data); // a large tensor arrives in pieces, in order
            }
        }
        else
        {
            foreach (var entry in source.Tensors)
            {
                var t = HostTensor.Zeros(entry.Shape);
                source.ReadTensor(entry.Name, t.Data);
                Keep(entry.Name, t);
            }
        }
        return new HostModelState(source.Config, source.Layout, parameters, exportOnly);
    }
}
