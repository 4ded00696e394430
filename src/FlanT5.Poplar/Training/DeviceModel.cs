using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Interop;
using EmbeddingLayout = FlanT5.Poplar.Checkpoints.EmbeddingLayout;

namespace FlanT5.Poplar.Training;

/// <summary>Where and how a model is placed: the device topology and the placement plan.</summary>
public sealed record DeviceModelOptions
{
    public IpuBackend Backend { get; init; } = IpuBackend.Emulator;
    /// <summary>Host threads for the emulator's arithmetic; 0 = all cores.</summary>
    public int Threads { get; init; }
    public int TensorParallel { get; init; } = 1;
    public int PipelineStages { get; init; } = 1;
    public int Replicas { get; init; } = 1;
    public Interop.PipelineSchedule Schedule { get; init; } = Interop.PipelineSchedule.GPipe;
    public bool Recompute { get; init; }
    public MemoryLocation WeightsLocation { get; init; } = MemoryLocation.OnChip;
    public MemoryLocation OptimizerLocation { get; init; } = MemoryLocation.OnChip;
    /// <summary>Weights only, no gradients or AdamW moments: for converting and serving, in a quarter of the memory.</summary>
    public bool WeightsOnly { get; init; }
    /// <summary>Dropout probability for training calls; null = the model config's dropout_rate.</summary>
    public double? DropoutRate { get; init; }
    public ulong Seed { get; init; }
    /// <summary>The data-parallel replicas this process runs when the run's host instances share them
    /// (<see cref="PlanDescription.FirstLocalReplica"/>); LocalReplicas 0 = all of them.</summary>
    public int FirstLocalReplica { get; init; }
    public int LocalReplicas { get; init; }
    /// <summary>Shapes the session's engine is compiled for at creation, in one compilation before the weights are
    /// written (<see cref="T5Session.Prepare"/>); others are compiled when first run.</summary>
    public IReadOnlyList<ProgramShape> Shapes { get; init; } = [];
    /// <summary>The graph's number format (model.precision).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>fp16 only: the weights' update rounds stochastically (training.stochastic_rounding).</summary>
    public bool StochasticRounding { get; init; }
    /// <summary>Every program stops at the first overflow, throwing <see cref="Ft5FloatingPointException"/>.</summary>
    public bool DetectOverflow { get; init; }
    /// <summary>fp16 mitigations (model.fp16); a weights-only session's only: a session that trains runs without them.</summary>
    public HalfMitigations Fp16Mitigations { get; init; }
    /// <summary>Each forward also measures every module's largest |activation| (T5Session.ActivationRanges).</summary>
    public bool ActivationRanges { get; init; }
    /// <summary>fp16 training with an fp32 master copy of the weights (training.master_weights).</summary>
    public bool MasterWeights { get; init; }

    public static DeviceModelOptions From(RunConfig config) => new()
    {
        Backend = config.Execution.Backend,
        Threads = config.Execution.Threads,
        TensorParallel = config.Execution.TensorParallel,
        PipelineStages = config.Execution.PipelineStages,
        Replicas = config.Execution.DataParallel,
        Schedule = (Interop.PipelineSchedule)config.Execution.PipelineSchedule,
        Recompute = config.Execution.Recompute,
        WeightsLocation = (MemoryLocation)config.Execution.WeightsLocation,
        OptimizerLocation = (MemoryLocation)config.Execution.OptimizerLocation,
        DropoutRate = config.Training.Dropout,
        Seed = (ulong)config.Training.Seed,
        Precision = config.Model.Precision,
        StochasticRounding = config.Training.StochasticRounding,
        MasterWeights = config.Training.MasterWeights,
        DetectOverflow = config.Execution.DetectOverflow,
        Fp16Mitigations = config.Model.Precision == Precision.Fp16 ? config.Model.Fp16.Flags : HalfMitigations.None,
    };
}

/// <summary>
/// A T5 model living on an IPU device (emulated or real): the device, the session built for a Hugging Face config
/// and embedding layout, and the seam that moves weights and optimizer state in and out under Hugging Face names.
/// As an <see cref="IModelTensorSource"/> it exports what is on the device now, plus any tensor the checkpoint had
/// that the model does not use (transformers 5 keeps an unused <c>shared.weight</c>), so export gives back what came in.
/// </summary>
public sealed class DeviceModel : IModelTensorSource, IDisposable
{
    private readonly Dictionary<string, HostTensor> _exportOnly = new(StringComparer.Ordinal);
    private readonly List<TensorEntry> _parameterEntries;

    private DeviceModel(IpuDevice device, T5Session session, T5ModelConfig config, EmbeddingLayout layout)
    {
        Device = device;
        Session = session;
        Config = config;
        Layout = layout;
        _parameterEntries = session.Parameters.Select(p => new TensorEntry(p.Name, p.Shape.Select(d => checked((int)d)).ToArray())).ToList();
    }

    public IpuDevice Device { get; }
    public T5Session Session { get; }
    public T5ModelConfig Config { get; }
    public EmbeddingLayout Layout { get; }

    public IReadOnlyList<TensorEntry> Tensors =>
        _parameterEntries.Concat(_exportOnly.Select(kv => new TensorEntry(kv.Key, kv.Value.Shape))).ToList();

    /// <summary>Opens a device and builds the model on it; parameters are zero until <see cref="LoadWeights"/>.</summary>
    public static DeviceModel Create(T5ModelConfig config, EmbeddingLayout layout, DeviceModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new DeviceModelOptions();
        int ipus = options.TensorParallel * options.PipelineStages * options.Replicas;
        var device = IpuDevice.Open(new IpuDeviceOptions { Backend = options.Backend, NumIpus = ipus, NumThreads = options.Threads });
        try
        {
            var description = Describe(config, layout, options.DropoutRate ?? config.DropoutRate, options.Seed);
            var plan = new PlanDescription
            {
                TensorParallel = options.TensorParallel,
                PipelineStages = options.PipelineStages,
                Replicas = options.Replicas,
                Schedule = options.Schedule,
                Recompute = options.Recompute,
                WeightsLocation = options.WeightsLocation,
                OptimizerLocation = options.OptimizerLocation,
                WeightsOnly = options.WeightsOnly,
                FirstLocalReplica = options.FirstLocalReplica,
                LocalReplicas = options.LocalReplicas,
                Precision = options.Precision == Precision.Fp16 ? TensorDataType.Float16 : TensorDataType.Float32,
                StochasticRounding = options.StochasticRounding,
                DetectOverflow = options.DetectOverflow,
                // the mitigations change the forward pass of sessions that only run it (training runs as the reference did)
                Fp16Mitigations = options.WeightsOnly ? options.Fp16Mitigations : HalfMitigations.None,
                ActivationRanges = options.ActivationRanges,
                // the master copy is training state: a weights-only session has none
                MasterWeights = options.MasterWeights && !options.WeightsOnly,
            };
            var session = T5Session.Create(device, description, plan);
            try
            {
                if (options.Shapes.Count > 0) session.Prepare(options.Shapes);
            }
            catch
            {
                session.Dispose();
                throw;
            }
            return new DeviceModel(device, session, config, layout);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>The session's model descriptor for a Hugging Face config and embedding layout.</summary>
    public static ModelDescription Describe(T5ModelConfig config, EmbeddingLayout layout, double dropoutRate, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ModelDescription
        {
            VocabSize = config.VocabSize,
            DModel = config.DModel,
            DKv = config.DKv,
            DFf = config.DFf,
            NumHeads = config.NumHeads,
            NumLayers = config.NumLayers,
            NumDecoderLayers = config.NumDecoderLayers,
            RelativeAttentionNumBuckets = config.RelativeAttentionNumBuckets,
            RelativeAttentionMaxDistance = config.RelativeAttentionMaxDistance,
            LayerNormEpsilon = (float)config.LayerNormEpsilon,
            FeedForward = config.FeedForward == Configuration.FeedForwardKind.GatedGelu
                ? Interop.FeedForwardKind.GatedGelu
                : Interop.FeedForwardKind.Relu,
            TieWordEmbeddings = config.TieWordEmbeddings,
            EmbeddingLayout = layout == EmbeddingLayout.Separate ? Interop.EmbeddingLayout.Separate : Interop.EmbeddingLayout.Shared,
            DropoutRate = (float)dropoutRate,
            PadTokenId = config.PadTokenId,
            EosTokenId = config.EosTokenId,
            DecoderStartTokenId = config.DecoderStartTokenId,
            Seed = seed,
        };
    }

    /// <summary>Opens a device for <paramref name="source"/>'s config and layout and loads its weights.</summary>
    public static DeviceModel Load(IModelTensorSource source, DeviceModelOptions? options = null)
    {
        var model = Create(source.Config, source.Layout, options);
        try
        {
            model.LoadWeights(source);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes every parameter from <paramref name="source"/> (one tensor at a time) and keeps the tensors
    /// the model does not use for export (those of an earlier load stay unless this source has them too).</summary>
    public void LoadWeights(ITensorSource source) => Load(source, ParameterSlot.Weight, "the weights", keepOthers: true);

    /// <summary>Writes the AdamW moments (training-checkpoint resume).</summary>
    public void LoadOptimizerState(ITensorSource firstMoment, ITensorSource secondMoment)
    {
        Load(firstMoment, ParameterSlot.AdamM, "the AdamW first moments", keepOthers: false);
        Load(secondMoment, ParameterSlot.AdamV, "the AdamW second moments", keepOthers: false);
    }

    /// <summary>Checks that <paramref name="source"/> holds every parameter in its shape, then writes them into
    /// <paramref name="slot"/>; other tensors are kept for export (<paramref name="keepOthers"/>) or skipped.</summary>
    private void Load(ITensorSource source, ParameterSlot slot, string what, bool keepOthers)
    {
        var available = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var missing = _parameterEntries.Where(p => !available.ContainsKey(p.Name)).Select(p => p.Name).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{what} lack {missing.Count} parameter(s) the model needs: {string.Join(", ", missing.Take(8))}");
        foreach (var p in _parameterEntries)
        {
            var shape = available[p.Name].Shape;
            if (!shape.SequenceEqual(p.Shape))
                throw new InvalidDataException($"{what}: tensor '{p.Name}' has shape [{string.Join(", ", shape)}]; the model expects [{string.Join(", ", p.Shape)}]");
        }
        var parameterNames = _parameterEntries.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        if (source is IStreamedTensorSource streamed)
        {
            LoadStreamed(streamed, slot, parameterNames, keepOthers, Describe(source, what));
            return;
        }
        float[] buffer = [];
        foreach (var p in _parameterEntries)
        {
            if (buffer.Length != p.ElementCount) buffer = new float[p.ElementCount];
            source.ReadTensor(p.Name, buffer);
            if (slot == ParameterSlot.Weight) NonFiniteWeights.ThrowIfAny(buffer, p.Name, Describe(source, what));
            Session.Write(p.Name, slot, buffer);
        }
        if (!keepOthers) return;
        foreach (var extra in source.Tensors.Where(t => !parameterNames.Contains(t.Name)))
        {
            var data = new float[extra.ElementCount];
            source.ReadTensor(extra.Name, data);
            _exportOnly[extra.Name] = new HostTensor(extra.Shape, data);
        }
    }

    /// <summary>
    /// Whole files are read in file order with O_DIRECT read-ahead (<see cref="IStreamedTensorSource.StreamTensors"/>)
    /// rather than mapped tensor by tensor: an XL or XXL load is then one sequential read per file that neither fills
    /// the page cache nor waits on page faults. Large tensors arrive in pieces. Tensors that are not parameters are
    /// kept for export (<paramref name="keepOthers"/>) or skipped.
    /// </summary>
    private void LoadStreamed(IStreamedTensorSource source, ParameterSlot slot, HashSet<string> parameterNames, bool keepOthers, string what)
    {
        var shapes = source.Tensors.ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);
        using var stream = source.StreamTensors();
        // One grow-only buffer for the parameters (the session copies each), so an XL load does not allocate — and
        // zero — a fresh array per tensor; a tensor kept for export has an array of its own.
        float[] parameters = [];
        float[] kept = [];
        while (stream.MoveNext())
        {
            string name = stream.Current.Name;
            bool isParameter = parameterNames.Contains(name);
            if (!isParameter && !keepOthers) continue;
            int n = checked((int)stream.Current.Info.ElementCount);
            if (stream.PieceStart == 0)
            {
                if (!isParameter) kept = new float[n];
                else if (parameters.Length < n) parameters = new float[n];
            }
            var destination = isParameter ? parameters.AsSpan(0, n) : kept;
            stream.ReadFloat32(destination);
            if (!stream.IsLastPiece) continue;
            if (isParameter && slot == ParameterSlot.Weight) NonFiniteWeights.ThrowIfAny(destination, name, what);
            if (isParameter) Session.Write(name, slot, destination);
            else _exportOnly[name] = new HostTensor(shapes[name], kept);
        }
    }

    private static string Describe(ITensorSource source, string what) =>
        source is HfCheckpoint checkpoint ? $"{what} of {checkpoint.Directory}" : what;

    public void ReadTensor(string name, Span<float> destination)
    {
        if (_exportOnly.TryGetValue(name, out var kept))
        {
            if (destination.Length != kept.Data.Length)
                throw new ArgumentException($"tensor '{name}' has {kept.Data.Length} elements; the destination holds {destination.Length}", nameof(destination));
            kept.Data.CopyTo(destination);
            return;
        }
        Session.Read(name, ParameterSlot.Weight, destination);
    }

    /// <summary>One per-parameter buffer of the session (gradients, Adam moments) as a tensor source.</summary>
    public ITensorSource Slot(ParameterSlot slot) => new SessionSlotSource(this, slot);

    public void Dispose()
    {
        Session.Dispose();
        Device.Dispose();
    }

    private sealed class SessionSlotSource(DeviceModel model, ParameterSlot slot) : ITensorSource
    {
        public IReadOnlyList<TensorEntry> Tensors => model._parameterEntries;
        public void ReadTensor(string name, Span<float> destination) => model.Session.Read(name, slot, destination);
    }
}
