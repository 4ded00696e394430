using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// An opened, validated Hugging Face T5 checkpoint: config plus safetensors tensors mapped to session parameters.
/// Tensors stay on disk (memory-mapped) and are read one at a time; see <see cref="HfCheckpointLoader"/>.
/// </summary>
public sealed class HfCheckpoint : IModelTensorSource, IStreamedTensorSource, IDisposable
{
    private readonly SafetensorsFileSet _files;
    private readonly Dictionary<string, string> _fileKeyByName;
    private readonly List<TensorEntry> _entries;

    public string Directory { get; }
    public T5ModelConfig Config { get; }
    public EmbeddingLayout Layout { get; }
    public HfParameterMap Map { get; }
    public IReadOnlyList<TensorEntry> Tensors => _entries;
    /// <summary>Tensors kept only to be exported back (the unused <c>shared.weight</c> of an untied save).</summary>
    public IReadOnlyList<string> ExportOnly { get; }
    /// <summary>The underlying files (dtype of each stored tensor, the index's absent aliases).</summary>
    public SafetensorsFileSet Files => _files;

    internal HfCheckpoint(string directory, T5ModelConfig config, EmbeddingLayout layout, SafetensorsFileSet files,
        Dictionary<string, string> fileKeyByName, IReadOnlyList<string> exportOnly)
    {
        Directory = directory;
        Config = config;
        Layout = layout;
        Map = HfParameterMap.Create(config, layout);
        _files = files;
        _fileKeyByName = fileKeyByName;
        ExportOnly = exportOnly;
        _entries = Map.Parameters.Select(p => new TensorEntry(p.Name, p.Shape))
            .Concat(exportOnly.Select(n => new TensorEntry(n, files.Info(n).Shape))).ToList();
    }

    /// <summary>The file key a tensor is read from (an alias may stand for <c>shared.weight</c>).</summary>
    public string FileKey(string name) =>
        _fileKeyByName.TryGetValue(name, out var key) ? key : throw new KeyNotFoundException($"{Directory}: no tensor '{name}'");

    public void ReadTensor(string name, Span<float> destination) => _files.ReadFloat32(FileKey(name), destination);

    /// <summary>Starts reading tensor <paramref name="name"/> from disk in the background (OS read-ahead).</summary>
    public void Prefetch(string name)
    {
        if (_files.TryGet(FileKey(name), out var reader, out var info)) reader.Prefetch(info);
    }

    /// <summary>
    /// Streams every tensor of <see cref="Tensors"/> in file order (not list order: the disk then reads sequentially),
    /// read ahead with O_DIRECT where the file system allows; see <see cref="SafetensorsTensorStream"/>.
    /// </summary>
    public SafetensorsTensorStream StreamTensors(FileStreamingOptions? options = null, int groupBytes = SafetensorsTensorStream.GroupBytes)
    {
        var fileOrder = _files.Files.Select((reader, i) => (reader, i)).ToDictionary(p => p.reader, p => p.i);
        var sources = _entries.Select(e =>
        {
            _files.TryGet(FileKey(e.Name), out var reader, out var info);
            return new StreamedTensorSource(e.Name, reader, info);
        }).OrderBy(t => fileOrder[t.File]).ThenBy(t => t.Info.Begin).ToList();
        return new SafetensorsTensorStream(sources, options, groupBytes);
    }

    SafetensorsTensorStream IStreamedTensorSource.StreamTensors() => StreamTensors();

    public HostModelState LoadAll() => HostModelState.ReadAll(this);

    public void Dispose() => _files.Dispose();
}
