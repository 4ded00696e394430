namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// The tensors of a checkpoint stored as one safetensors file or as shards listed by
/// <see cref="SafetensorsIndex"/>, opened and cross-checked: every index entry must exist in its file (except the
/// names <c>mayBeAbsent</c> accepts, recorded in <see cref="ListedButAbsent"/>), and every tensor of a shard must be
/// listed by the index.
/// </summary>
public sealed class SafetensorsFileSet : IDisposable
{
    private readonly List<SafetensorsReader> _readers = [];
    private readonly Dictionary<string, (SafetensorsReader Reader, SafetensorsTensorInfo Info)> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public string Source { get; }
    public IReadOnlyList<string> Names => _order;
    public IReadOnlyList<string> ListedButAbsent { get; }
    public IReadOnlyList<SafetensorsReader> Files => _readers;

    private SafetensorsFileSet(string source, IReadOnlyList<string> listedButAbsent)
    {
        Source = source;
        ListedButAbsent = listedButAbsent;
    }

    /// <summary>
    /// Opens a folder (its model.safetensors.index.json, else its model.safetensors), an index file, or one
    /// .safetensors file.
    /// </summary>
    public static SafetensorsFileSet Open(string path, Func<string, bool>? mayBeAbsent = null)
    {
        if (System.IO.Directory.Exists(path))
        {
            var index = Path.Combine(path, SafetensorsIndex.FileName);
            if (File.Exists(index)) return OpenIndexed(SafetensorsIndex.Load(index), mayBeAbsent);
            var single = Path.Combine(path, "model.safetensors");
            if (File.Exists(single)) return OpenSingle(single);
            throw new FileNotFoundException($"{path}: neither {SafetensorsIndex.FileName} nor model.safetensors found");
        }
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return OpenIndexed(SafetensorsIndex.Load(path), mayBeAbsent);
        return OpenSingle(path);
    }

    private static SafetensorsFileSet OpenSingle(string file)
    {
        var set = new SafetensorsFileSet(file, []);
        try
        {
            var reader = SafetensorsReader.Open(file);
            set._readers.Add(reader);
            foreach (var info in reader.Tensors) set.Add(reader, info);
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    private static SafetensorsFileSet OpenIndexed(SafetensorsIndex index, Func<string, bool>? mayBeAbsent)
    {
        var absent = new List<string>();
        var set = new SafetensorsFileSet(index.Path, absent);
        try
        {
            var byFile = new Dictionary<string, SafetensorsReader>(StringComparer.Ordinal);
            foreach (var file in index.Files)
            {
                var reader = SafetensorsReader.Open(Path.Combine(index.Directory, file));
                set._readers.Add(reader);
                byFile[file] = reader;
            }
            foreach (var (name, file) in index.WeightMap)
            {
                var reader = byFile[file];
                if (reader.TryGet(name, out var info)) set.Add(reader, info);
                else if (mayBeAbsent?.Invoke(name) == true) absent.Add(name);
                else throw new InvalidDataException($"{index.Path}: lists tensor '{name}' in {file}, but that file does not hold it");
            }
            foreach (var (file, reader) in byFile)
            {
                foreach (var info in reader.Tensors)
                {
                    if (!index.WeightMap.TryGetValue(info.Name, out var listed) || listed != file)
                        throw new InvalidDataException(
                            $"{index.Path}: {file} holds tensor '{info.Name}', which the index " +
                            (listed is null ? "does not list" : $"places in {listed}"));
                }
            }
            set._order.Sort(StringComparer.Ordinal);
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    private void Add(SafetensorsReader reader, SafetensorsTensorInfo info)
    {
        _tensors[info.Name] = (reader, info);
        _order.Add(info.Name);
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public bool TryGet(string name, out SafetensorsReader reader, out SafetensorsTensorInfo info)
    {
        if (_tensors.TryGetValue(name, out var entry))
        {
            (reader, info) = entry;
            return true;
        }
        reader = null!;
        info = null!;
        return false;
    }

    public SafetensorsTensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var e) ? e.Info : throw new KeyNotFoundException($"{Source}: no tensor '{name}'");

    public void ReadFloat32(string name, Span<float> destination)
    {
        if (!_tensors.TryGetValue(name, out var e)) throw new KeyNotFoundException($"{Source}: no tensor '{name}'");
        e.Reader.ReadFloat32(e.Info, destination);
    }

    /// <summary>Whether two tensors hold the same dtype, shape and bytes.</summary>
    public bool BytesEqual(string a, string b)
    {
        var (ra, ia) = _tensors[a];
        var (rb, ib) = _tensors[b];
        return ra.BytesEqual(ia, rb, ib);
    }

    public void Dispose()
    {
        foreach (var reader in _readers) reader.Dispose();
    }
}
