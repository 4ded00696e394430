namespace FlanT5.Poplar.Checkpoints;

/// <summary>Named host tensors in a fixed order, readable as an <see cref="ITensorSource"/>.</summary>
public sealed class HostTensorSet : ITensorSource
{
    private readonly Dictionary<string, HostTensor> _tensors = new(StringComparer.Ordinal);
    private readonly List<TensorEntry> _entries = [];

    public IReadOnlyList<TensorEntry> Tensors => _entries;

    public HostTensorSet Add(string name, HostTensor tensor)
    {
        if (tensor.Data.LongLength != ShapeMath.ElementCount(tensor.Shape))
            throw new ArgumentException($"tensor '{name}' {ShapeMath.Format(tensor.Shape)} needs {ShapeMath.ElementCount(tensor.Shape)} values, got {tensor.Data.LongLength}");
        if (!_tensors.TryAdd(name, tensor)) throw new ArgumentException($"tensor '{name}' added twice");
        _entries.Add(new TensorEntry(name, tensor.Shape));
        return this;
    }

    public HostTensor this[string name] => _tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"no tensor '{name}'");

    public void ReadTensor(string name, Span<float> destination) => this[name].CopyTo(name, destination);

    /// <summary>Reads every tensor of <paramref name="source"/> into host memory.</summary>
    public static HostTensorSet ReadAll(ITensorSource source)
    {
        var set = new HostTensorSet();
        foreach (var entry in source.Tensors)
        {
            var t = HostTensor.Zeros(entry.Shape);
            source.ReadTensor(entry.Name, t.Data);
            set.Add(entry.Name, t);
        }
        return set;
    }
}
