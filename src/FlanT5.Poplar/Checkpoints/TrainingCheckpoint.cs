using System.Text.Json.Nodes;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// A training checkpoint opened from disk and verified (manifest checksum, file lengths, safetensors headers and
/// every tensor's XxHash64). Tensors stay memory-mapped and are read one at a time, or streamed file by file.
/// </summary>
public sealed class TrainingCheckpoint : IDisposable
{
    internal const string WeightsFile = "weights.safetensors";
    internal const string FirstMomentFile = "adam_m.safetensors";
    internal const string SecondMomentFile = "adam_v.safetensors";

    private readonly List<SafetensorsReader> _readers;

    public string Directory { get; }
    public TrainingCheckpointManifest Manifest { get; }
    public long Step => Manifest.Step;
    public T5ModelConfig Config { get; }
    public EmbeddingLayout Layout { get; }
    public ITensorSource Weights { get; }
    public ITensorSource AdamFirstMoment { get; }
    public ITensorSource AdamSecondMoment { get; }

    private TrainingCheckpoint(string directory, TrainingCheckpointManifest manifest, T5ModelConfig config, EmbeddingLayout layout,
        List<SafetensorsReader> readers)
    {
        Directory = directory;
        Manifest = manifest;
        Config = config;
        Layout = layout;
        _readers = readers;
        Weights = new ReaderTensorSource(readers[0]);
        AdamFirstMoment = new ReaderTensorSource(readers[1]);
        AdamSecondMoment = new ReaderTensorSource(readers[2]);
    }

    /// <summary>The weights with the model config and embedding layout they belong to, as a checkpoint to load or
    /// export (<c>flant5 convert --training-checkpoint</c>); valid while this checkpoint is open.</summary>
    public IModelTensorSource ModelWeights => new ModelWeightsSource(Config, Layout, (IStreamedTensorSource)Weights);

    /// <summary>The resumable state, reading tensors from this checkpoint (valid while it is open).</summary>
    public TrainingState ToState() => new()
    {
        Step = Manifest.Step,
        Config = Config,
        Layout = Layout,
        Weights = Weights,
        AdamFirstMoment = AdamFirstMoment,
        AdamSecondMoment = AdamSecondMoment,
        SchedulePosition = Manifest.SchedulePosition,
        LossScale = Manifest.LossScale,
        DataCursor = Manifest.DataCursor,
        RngState = Manifest.RngState,
        Plan = Manifest.Plan,
        RunConfig = Manifest.RunConfig,
    };

    /// <summary>Opens and fully verifies the checkpoint in <paramref name="directory"/>.</summary>
    public static TrainingCheckpoint Open(string directory)
    {
        var manifestPath = Path.Combine(directory, TrainingCheckpointManifest.FileName);
        if (!File.Exists(manifestPath)) throw new InvalidDataException($"{directory}: not a complete checkpoint (no {TrainingCheckpointManifest.FileName})");
        var manifest = TrainingCheckpointManifest.FromBytes(File.ReadAllBytes(manifestPath), manifestPath);

        T5ModelConfig config;
        try
        {
            config = T5ModelConfig.FromJson(JsonNode.Parse(manifest.ModelConfigJson) as JsonObject
                ?? throw new InvalidDataException($"{manifestPath}: model config is not a JSON object"), manifestPath);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{manifestPath}: model config is not valid JSON: {e.Message}", e);
        }
        if (!Enum.TryParse<EmbeddingLayout>(manifest.Layout, out var layout))
            throw new InvalidDataException($"{manifestPath}: unknown embedding layout '{manifest.Layout}'");

        string[] expectedFiles = [WeightsFile, FirstMomentFile, SecondMomentFile];
        if (!manifest.Files.Select(f => f.Name).SequenceEqual(expectedFiles))
            throw new InvalidDataException($"{manifestPath}: lists files {string.Join(", ", manifest.Files.Select(f => f.Name))}; expected {string.Join(", ", expectedFiles)}");

        var readers = new List<SafetensorsReader>();
        try
        {
            foreach (var file in manifest.Files)
            {
                var path = Path.Combine(directory, file.Name);
                if (!File.Exists(path)) throw new InvalidDataException($"{path}: missing from the checkpoint");
                long length = new FileInfo(path).Length;
                if (length != file.Length)
                    throw new InvalidDataException($"{path}: {length} bytes, the manifest recorded {file.Length} (truncated or replaced)");
                var reader = SafetensorsReader.Open(path);
                readers.Add(reader);
                Verify(reader, file);
            }
            return new TrainingCheckpoint(directory, manifest, config, layout, readers);
        }
        catch
        {
            foreach (var r in readers) r.Dispose();
            throw;
        }
    }

    private static void Verify(SafetensorsReader reader, TrainingCheckpointFile file)
    {
        var listed = file.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var stored = reader.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (!listed.SetEquals(stored))
            throw new InvalidDataException($"{reader.Path}: tensors differ from the manifest (missing: {string.Join(", ", listed.Except(stored))}; extra: {string.Join(", ", stored.Except(listed))})");
        var expectedHash = new Dictionary<string, ulong>(StringComparer.Ordinal);
        var sources = new List<StreamedTensorSource>();
        foreach (var expected in file.Tensors)
        {
            var info = reader.Get(expected.Name);
            if (!ShapeMath.SameShape(info.Shape, expected.Shape))
                throw new InvalidDataException($"{reader.Path}: tensor '{expected.Name}' is {info.ShapeText}, the manifest recorded {ShapeMath.Format(expected.Shape)}");
            expectedHash[expected.Name] = expected.XxHash64;
            sources.Add(new StreamedTensorSource(expected.Name, reader, info));
        }
        // Hashed as one sequential O_DIRECT read of the file (an XL checkpoint's moments are 23 GB), large tensors in pieces.
        using var stream = new SafetensorsTensorStream(sources.OrderBy(t => t.Info.Begin).ToList());
        var hash = new System.IO.Hashing.XxHash64();
        while (stream.MoveNext())
        {
            if (stream.PieceStart == 0) hash.Reset();
            hash.Append(stream.Bytes);
            if (stream.IsLastPiece && hash.GetCurrentHashAsUInt64() != expectedHash[stream.Current.Name])
                throw new InvalidDataException($"{reader.Path}: tensor '{stream.Current.Name}' checksum mismatch (the data is damaged)");
        }
    }

    public void Dispose()
    {
        foreach (var r in _readers) r.Dispose();
    }

    private sealed class ModelWeightsSource(T5ModelConfig config, EmbeddingLayout layout, IStreamedTensorSource weights)
        : IModelTensorSource, IStreamedTensorSource
    {
        public T5ModelConfig Config => config;
        public EmbeddingLayout Layout => layout;
        public IReadOnlyList<TensorEntry> Tensors => weights.Tensors;
        public void ReadTensor(string name, Span<float> destination) => weights.ReadTensor(name, destination);
        public SafetensorsTensorStream StreamTensors() => weights.StreamTensors();
    }

    private sealed class ReaderTensorSource(SafetensorsReader reader) : IStreamedTensorSource
    {
        public IReadOnlyList<TensorEntry> Tensors { get; } = reader.Tensors.Select(t => new TensorEntry(t.Name, t.Shape)).ToList();

        public void ReadTensor(string name, Span<float> destination) => reader.ReadFloat32(reader.Get(name), destination);

        public SafetensorsTensorStream StreamTensors() =>
            new(reader.Tensors.OrderBy(t => t.Begin).Select(t => new StreamedTensorSource(t.Name, reader, t)).ToList());
    }
}
