using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// How the model is spread over IPUs: tensor parallel (t) × pipeline stages (p) × data-parallel replicas (d),
/// the contiguous layers of each stage, the micro-batch schedule, recomputation and where weights and optimizer
/// state live. Mirrors ft5_plan_desc field for field, so the native session can take it unchanged.
/// IPU numbering follows Poplar's replicas: the graph is replicated t × d times (replica = data-parallel index × t
/// + tp_rank, tensor-parallel groups consecutive), each replica holds p consecutive IPUs, one per stage:
/// ipu = (replica × t + tp_rank) × p + stage.
/// </summary>
public sealed record PlacementPlan
{
    public int TensorParallel { get; init; } = 1;
    public int PipelineStages { get; init; } = 1;
    public int Replicas { get; init; } = 1;

    /// <summary>Encoder layers held by each stage (PipelineStages entries); encoder stages come before decoder ones.</summary>
    public IReadOnlyList<int> EncoderLayersPerStage { get; init; } = [];

    /// <summary>Decoder layers held by each stage (PipelineStages entries).</summary>
    public IReadOnlyList<int> DecoderLayersPerStage { get; init; } = [];

    public PipelineSchedule Schedule { get; init; } = PipelineSchedule.GPipe;

    /// <summary>Keep only each layer's input and recompute the layer in the backward pass (the LM head is never recomputed).</summary>
    public bool Recompute { get; init; }

    public TensorLocation WeightsLocation { get; init; } = TensorLocation.OnChip;
    public TensorLocation OptimizerLocation { get; init; } = TensorLocation.OnChip;

    /// <summary>
    /// Weights in streaming memory means phased execution, as in the reference implementation: layers run one after
    /// another, each loaded (and its gradients and optimizer state updated) as one phase over all micro-batches.
    /// </summary>
    public bool PhasedExecution => WeightsLocation == TensorLocation.Streaming;

    public int IpusPerReplica => TensorParallel * PipelineStages;
    public int IpuCount => TensorParallel * PipelineStages * Replicas;

    /// <summary>A plan with the layers split as evenly as possible over the stages, encoder layers first.</summary>
    public static PlacementPlan Create(
        T5ModelConfig model, int tensorParallel = 1, int pipelineStages = 1, int replicas = 1,
        PipelineSchedule schedule = PipelineSchedule.GPipe, bool recompute = false,
        TensorLocation weights = TensorLocation.OnChip, TensorLocation optimizer = TensorLocation.OnChip)
    {
        if (pipelineStages < 1)
            throw new InvalidPlanException("pipeline_stages", $"{pipelineStages}; expected >= 1");
        var total = model.NumLayers + model.NumDecoderLayers;
        if (pipelineStages > total)
            throw new InvalidPlanException("pipeline_stages",
                $"{pipelineStages} stages exceed the {total} layers ({model.NumLayers} encoder + {model.NumDecoderLayers} decoder); every stage needs a layer");
        var (encoder, decoder) = EvenSplit(model.NumLayers, model.NumDecoderLayers, pipelineStages);
        var plan = new PlacementPlan
        {
            TensorParallel = tensorParallel,
            PipelineStages = pipelineStages,
            Replicas = replicas,
            EncoderLayersPerStage = encoder,
            DecoderLayersPerStage = decoder,
            Schedule = schedule,
            Recompute = recompute,
            WeightsLocation = weights,
            OptimizerLocation = optimizer,
        };
        plan.Validate(model);
        return plan;
    }

    /// <summary>
    /// Splits encoder then decoder layers, as one sequence, into <paramref name="stages"/> contiguous ranges whose
    /// sizes differ by at most one (the first stages take the extra layers).
    /// </summary>
    public static (int[] Encoder, int[] Decoder) EvenSplit(int encoderLayers, int decoderLayers, int stages)
    {
        var encoder = new int[stages];
        var decoder = new int[stages];
        var total = encoderLayers + decoderLayers;
        var next = 0;
        for (var s = 0; s < stages; s++)
        {
            var count = total / stages + (s < total % stages ? 1 : 0);
            for (var i = 0; i < count; i++, next++)
            {
                if (next < encoderLayers) encoder[s]++;
                else decoder[s]++;
            }
        }
        return (encoder, decoder);
    }

    /// <summary>The IPU of one tensor-parallel rank of one stage of one replica.</summary>
    public int IpuIndex(int replica, int stage, int tpRank)
    {
        if (replica < 0 || replica >= Replicas)
            throw new ArgumentOutOfRangeException(nameof(replica), replica, $"expected a replica in [0, {Replicas})");
        if (stage < 0 || stage >= PipelineStages)
            throw new ArgumentOutOfRangeException(nameof(stage), stage, $"expected a stage in [0, {PipelineStages})");
        if (tpRank < 0 || tpRank >= TensorParallel)
            throw new ArgumentOutOfRangeException(nameof(tpRank), tpRank, $"expected a tensor-parallel rank in [0, {TensorParallel})");
        return (replica * TensorParallel + tpRank) * PipelineStages + stage;
    }

    /// <summary>Inverse of <see cref="IpuIndex"/>.</summary>
    public (int Replica, int Stage, int TpRank) Locate(int ipu)
    {
        if (ipu < 0 || ipu >= IpuCount)
            throw new ArgumentOutOfRangeException(nameof(ipu), ipu, $"expected an IPU in [0, {IpuCount})");
        var poplarReplica = ipu / PipelineStages;
        return (poplarReplica / TensorParallel, ipu % PipelineStages, poplarReplica % TensorParallel);
    }

    /// <summary>Throws when <paramref name="target"/> has fewer IPUs than the plan places.</summary>
    public void RequireIpus(IpuTarget target)
    {
        if (target.IpuCount < IpuCount)
            throw new InvalidPlanException("replicas",
                $"the plan needs {IpuCount} IPUs (tp {TensorParallel} × stages {PipelineStages} × replicas {Replicas}) but the target has {target.IpuCount}");
    }

    /// <summary>One entry per IPU in IPU order; <paramref name="place"/> gets the IPU, its replica, stage and tensor-parallel rank.</summary>
    public List<T> PerIpu<T>(Func<int, int, int, int, T> place)
    {
        var ipus = new List<T>(IpuCount);
        for (var ipu = 0; ipu < IpuCount; ipu++)
        {
            var (replica, stage, rank) = Locate(ipu);
            ipus.Add(place(ipu, replica, stage, rank));
        }
        return ipus;
    }

    /// <summary>Stage holding encoder layer <paramref name="layer"/> (or decoder layer when <paramref name="decoder"/>).</summary>
    public int StageOfLayer(int layer, bool decoder)
    {
        var perStage = decoder ? DecoderLayersPerStage : EncoderLayersPerStage;
        var first = 0;
        for (var s = 0; s < perStage.Count; s++)
        {
            if (layer < first + perStage[s]) return s;
            first += perStage[s];
        }
        throw new ArgumentOutOfRangeException(nameof(layer), layer, $"no stage holds {(decoder ? "decoder" : "encoder")} layer {layer}");
    }

    /// <summary>Throws <see cref="InvalidPlanException"/> naming the first setting that cannot work for this model.</summary>
    public void Validate(T5ModelConfig model)
    {
        if (TensorParallel < 1) throw new InvalidPlanException("tensor_parallel", $"{TensorParallel}; expected >= 1");
        if (PipelineStages < 1) throw new InvalidPlanException("pipeline_stages", $"{PipelineStages}; expected >= 1");
        if (Replicas < 1) throw new InvalidPlanException("replicas", $"{Replicas}; expected >= 1");
        if (model.NumHeads % TensorParallel != 0)
            throw new InvalidPlanException("tensor_parallel",
                $"{TensorParallel} does not divide num_heads {model.NumHeads} (attention is split by heads)");
        if (model.DFf % TensorParallel != 0)
            throw new InvalidPlanException("tensor_parallel",
                $"{TensorParallel} does not divide d_ff {model.DFf} (the feed-forward is split by d_ff)");
        var total = model.NumLayers + model.NumDecoderLayers;
        if (PipelineStages > total)
            throw new InvalidPlanException("pipeline_stages",
                $"{PipelineStages} stages exceed the {total} layers ({model.NumLayers} encoder + {model.NumDecoderLayers} decoder); every stage needs a layer");
        CheckPerStage("encoder_layers_per_stage", EncoderLayersPerStage, model.NumLayers, "num_layers");
        CheckPerStage("decoder_layers_per_stage", DecoderLayersPerStage, model.NumDecoderLayers, "num_decoder_layers");
        var decoderStarted = false;
        for (var s = 0; s < PipelineStages; s++)
        {
            if (EncoderLayersPerStage[s] + DecoderLayersPerStage[s] == 0)
                throw new InvalidPlanException("encoder_layers_per_stage", $"stage {s} holds no layer; every stage needs at least one");
            if (decoderStarted && EncoderLayersPerStage[s] > 0)
                throw new InvalidPlanException("encoder_layers_per_stage",
                    $"stage {s} holds encoder layers after an earlier stage holds decoder layers; encoder stages must come first");
            decoderStarted |= DecoderLayersPerStage[s] > 0;
        }
        if (PhasedExecution && PipelineStages > 1)
            throw new InvalidPlanException("weights_location",
                $"streaming (phased execution runs every layer over all IPUs of a replica, one after another) cannot be combined with pipeline_stages {PipelineStages}; use pipeline_stages 1 or weights on-chip");
    }

    private void CheckPerStage(string field, IReadOnlyList<int> perStage, int layers, string configKey)
    {
        if (perStage.Count != PipelineStages)
            throw new InvalidPlanException(field, $"has {perStage.Count} entries; expected one per stage ({PipelineStages})");
        for (var s = 0; s < perStage.Count; s++)
        {
            if (perStage[s] < 0) throw new InvalidPlanException(field, $"stage {s} has {perStage[s]} layers; expected >= 0");
        }
        var sum = perStage.Sum();
        if (sum != layers)
            throw new InvalidPlanException(field, $"adds up to {sum} layers; the model has {configKey} {layers}");
    }

    /// <summary>One line such as "TP16 × PP1 × DP1 (16 IPUs), phased, recompute".</summary>
    public string Describe()
    {
        var parts = new List<string> { $"TP{TensorParallel} x PP{PipelineStages} x DP{Replicas} ({IpuCount} IPUs)" };
        if (PipelineStages > 1) parts.Add(Schedule == PipelineSchedule.GPipe ? "GPipe" : "1F1B");
        parts.Add(Recompute ? "recompute" : "no recompute");
        parts.Add($"weights {LocationName(WeightsLocation)}");
        parts.Add($"optimizer {LocationName(OptimizerLocation)}");
        if (PhasedExecution) parts.Add("phased");
        return string.Join(", ", parts);
    }

    public static string LocationName(TensorLocation location) => location == TensorLocation.OnChip ? "on-chip" : "streaming";

    /// <summary>Parses "on-chip"/"onchip" or "streaming"/"remote"; <paramref name="what"/> names the setting in errors.</summary>
    public static TensorLocation ParseLocation(string text, string what) => text.Trim().ToLowerInvariant() switch
    {
        "on-chip" or "onchip" or "on_chip" => TensorLocation.OnChip,
        "streaming" or "remote" => TensorLocation.Streaming,
        _ => throw new ArgumentException($"{what}: '{text}' is not a location; expected on-chip or streaming"),
    };
}
