using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// Bytes each IPU needs for a training step under a plan, by category, before anything is built.
///
/// Parameters: each tp rank of a stage holds its shard of every parameter of that stage (see
/// <see cref="TensorParallelPlan"/>); weights take the training precision, gradient accumulators
/// <see cref="TrainingShape.AccumulatorPrecision"/>, Adam m and v <see cref="TrainingShape.OptimizerStatePrecision"/>
/// each (no fp32 master copy, as in the reference).
/// A group in streaming memory costs on-chip only the buffers of the phase unit being worked on (a layer, the
/// embedding or the LM head); streamed weights get two unit buffers (the current unit and the prefetched next one).
/// Streaming tensors are sharded across data-parallel replicas (replicated tensor sharding, as the reference does),
/// so each IPU stores 1/replicas of them and all-gathers on load.
///
/// Activations: per micro-batch, the tensors <see cref="ActivationFootprint"/> lists for every layer of the stage,
/// or only each layer's input with recomputation, plus the encoder output (decoder stages), the encoder final norm's
/// input (the encoder's last stage), the token ids (first stage) and the LM head's tensors (last stage; never
/// recomputed). Micro-batches in flight: 1 without pipelining,
/// all of them with GPipe, (stages − stage) with 1F1B. Under phased execution a layer runs over all micro-batches
/// before the next one, so the kept activations of all micro-batches go to streaming memory (layer inputs sharded
/// across the tp group) and on-chip holds one micro-batch of one layer.
/// With recomputation each micro-batch in flight also keeps its stacks' attention biases (the blocks are rebuilt from
/// them).
/// Working set: the rebuilt activations of the largest layer when layers are recomputed (or loaded back, phased),
/// plus the largest matmul scratch of the stage's layers (<see cref="ActivationFootprint.LargestMatMulTemporary"/>),
/// or on the last stage the cross-entropy's fp32 working tensors when larger
/// (<see cref="ActivationFootprint.CrossEntropyWorking"/>). These terms are what the emulated engine's compiled
/// per-IPU peak holds (its report lists the variables live at the peak step).
///
/// Overhead: a fixed <see cref="OverheadFraction"/> of tile memory (default 20 %) is reserved for what the model does
/// not count tensor by tensor: program code, vertex state, exchange buffers and matmul/softmax temporaries. 20 % is
/// our choice, matching the share of tile memory the reference lets matmuls use for temporaries
/// (available_memory_proportion 0.2); compiled Poplar programs of this size usually spend a similar share on code
/// and exchange, so the reserve is if anything optimistic.
/// </summary>
public sealed class MemoryPlanner(double overheadFraction = MemoryPlanner.DefaultOverheadFraction)
{
    public const double DefaultOverheadFraction = 0.20;

    /// <summary>Number of phase-unit weight buffers on chip under phased execution (current + prefetched).</summary>
    public const int StreamedWeightBuffers = 2;

    public double OverheadFraction { get; } = overheadFraction is >= 0 and < 1
        ? overheadFraction
        : throw new ArgumentOutOfRangeException(nameof(overheadFraction), overheadFraction, "expected 0 <= fraction < 1");

    public MemoryReport Plan(T5ModelConfig model, PlacementPlan plan, TrainingShape shape, IpuTarget target,
        EmbeddingLayout layout = EmbeddingLayout.Shared)
    {
        plan.Validate(model);
        shape.Validate(plan);
        plan.RequireIpus(target);
        var parameters = TensorParallelPlan.Build(model, plan, layout);
        var stages = Enumerable.Range(0, plan.PipelineStages)
            .Select(s => PlanStage(model, plan, shape, target, parameters, s))
            .ToArray();
        return new MemoryReport(plan.PerIpu((ipu, replica, stage, rank) =>
            stages[stage] with { Ipu = ipu, Replica = replica, Stage = stage, TpRank = rank }));
    }

    /// <summary>One tp rank of one stage (all ranks and replicas of a stage need the same).</summary>
    private IpuMemory PlanStage(T5ModelConfig model, PlacementPlan plan, TrainingShape shape, IpuTarget target,
        TensorParallelPlan parameters, int stage)
    {
        int wb = shape.Precision.Bytes(), ab = shape.AccumulatorPrecision.Bytes(), ob = shape.OptimizerStatePrecision.Bytes();
        long replicas = plan.Replicas;
        var stageParams = parameters.Parameters.Where(p => p.Stages.Contains(stage)).ToArray();
        long elements = stageParams.Sum(p => p.ShardElements);
        var units = parameters.UnitsOnStage(stage);
        long unit = units.Max(u => u.Elements);
        var largestUnit = units.First(u => u.Elements == unit).Unit;

        var weightsStreamed = plan.WeightsLocation == TensorLocation.Streaming;
        var optimizerStreamed = plan.OptimizerLocation == TensorLocation.Streaming;
        long weights = weightsStreamed ? StreamedWeightBuffers * unit * wb : elements * wb;
        // Gradients follow the weights: accumulated on chip, or per phase unit and stored with the streamed weights.
        long gradients = (weightsStreamed ? unit : elements) * ab;
        // Streamed state is fetched per update: a parameter's at a time with the weights on chip, a phase unit's
        // (beside its streamed weights and gradients) in phased execution.
        long largestParameter = stageParams.Max(p => p.ShardElements);
        long optimizer = (!optimizerStreamed ? elements : weightsStreamed ? unit : largestParameter) * shape.OptimizerStateBytes;
        long streaming = (weightsStreamed ? Shard(elements * (wb + ab), replicas) : 0)
                         + (optimizerStreamed ? Shard(elements * shape.OptimizerStateBytes, replicas) : 0);

        var act = new ActivationFootprint(model, plan.TensorParallel, shape);
        var encoderLayers = LayerRange(plan.EncoderLayersPerStage, stage);
        var decoderLayers = LayerRange(plan.DecoderLayersPerStage, stage);
        var last = stage == plan.PipelineStages - 1;
        var (layerSets, extras) = StageActivations(model, plan, act, parameters, stage);
        long extrasBytes = extras.Sum(t => t.Bytes);
        long keptLayers = layerSets.Sum(l => plan.Recompute ? l.Input.Bytes : l.Kept.Sum(t => t.Bytes));
        long largestLayer = layerSets.Max(l => l.Kept.Sum(t => t.Bytes));

        var microBatches = shape.GradientAccumulation(plan);
        int inFlight;
        long activations;
        if (plan.PhasedExecution)
        {
            // One micro-batch of one layer on chip; every micro-batch's kept tensors wait in streaming memory.
            inFlight = 1;
            activations = layerSets.Max(l => l.Input.Bytes) + extrasBytes;
            var perMicroBatch = plan.Recompute ? Shard(keptLayers, plan.TensorParallel) : keptLayers;
            streaming += microBatches * (perMicroBatch + (decoderLayers.Length > 0 ? Shard(act.EncoderOutput.Bytes, plan.TensorParallel) : 0));
        }
        else
        {
            inFlight = plan.PipelineStages == 1 ? 1
                : plan.Schedule == PipelineSchedule.GPipe ? microBatches
                : Math.Min(microBatches, plan.PipelineStages - stage);
            // Pipelined micro-batches share one pass: on a stage that holds several in flight, each has a slot in
            // the stage's stash, and the pass works on one of them at a time in its own tensors, restored from the
            // stash and saved back (one in flight needs no stash: its segments run with no other's in between).
            activations = (inFlight > 1 ? inFlight + 1 : 1) * (keptLayers + extrasBytes);
        }
        var recomputed = plan.Recompute || plan.PhasedExecution;
        // Backward walks the layers in reverse and frees each layer's kept tensors as its gradients are formed, so the
        // transient work of a layer's backward reuses that room; only a recomputed layer needs its tensors twice (the
        // kept input and the rebuilt activations). Checked against the emulated engine's compiled per-IPU peaks.
        // The peak comes at the end of the forward pass, during the last layer's largest matmul (its scratch), or while
        // a recomputed layer is rebuilt, or, on the last stage, while the loss is formed (the cross-entropy's working
        // tensors); whichever of them is largest.
        long matMulScratch = Math.Max(encoderLayers.Length > 0 ? act.LargestMatMulTemporary(false) : 0,
                                      decoderLayers.Length > 0 ? act.LargestMatMulTemporary(true) : 0);
        long working = Math.Max((recomputed ? largestLayer : 0) + matMulScratch,
                                last ? act.CrossEntropyWorking(parameters.PaddedVocab).Bytes : 0);

        var largest = new List<TensorFootprint>();
        if (weightsStreamed)
            largest.Add(new TensorFootprint($"{largestUnit} weights ({StreamedWeightBuffers} phase buffers, {shape.Precision.Name()})", weights));
        else
            largest.AddRange(stageParams.Select(p => new TensorFootprint(
                $"{p.Name} shard [{string.Join(",", p.ShardShape)}] {shape.Precision.Name()}", p.ShardElements * wb)));
        if (!optimizerStreamed)
            largest.AddRange(stageParams.Select(p => new TensorFootprint(
                $"{p.Name} Adam m+v {shape.OptimizerStatePrecision.Name()}{(shape.OptimizerStateBytes > 2 * ob ? " + fp32 master" : "")}",
                p.ShardElements * shape.OptimizerStateBytes)));
        var biggestLayer = layerSets.First(l => l.Kept.Sum(t => t.Bytes) == largestLayer);
        largest.AddRange(biggestLayer.Kept.Select(t => inFlight > 1 && !plan.Recompute
            ? t with { Name = $"{t.Name} × {inFlight} micro-batches", Bytes = t.Bytes * inFlight }
            : t));
        if (last) largest.Add(act.CrossEntropyWorking(parameters.PaddedVocab));

        return new IpuMemory
        {
            Ipu = 0,
            Replica = 0,
            Stage = stage,
            TpRank = 0,
            Weights = weights,
            Gradients = gradients,
            OptimizerState = optimizer,
            OptimizerStateResident = !optimizerStreamed || weightsStreamed,
            Activations = activations,
            WorkingSet = working,
            Overhead = (long)Math.Round(OverheadFraction * target.OnChipBytesPerIpu),
            Capacity = target.OnChipBytesPerIpu,
            StreamingUsed = streaming,
            StreamingCapacity = target.StreamingBytesPerIpu,
            InFlightMicroBatches = inFlight,
            LargestTensors = largest.OrderByDescending(t => t.Bytes).ThenBy(t => t.Name, StringComparer.Ordinal).Take(5).ToArray(),
        };
    }

    /// <summary>What one micro-batch leaves on a stage for its backward pass, bytes (what a pipeline stashes).</summary>
    public static long KeptPerMicroBatch(T5ModelConfig model, PlacementPlan plan, TrainingShape shape,
        TensorParallelPlan parameters, int stage)
    {
        var (layerSets, extras) = StageActivations(model, plan, new ActivationFootprint(model, plan.TensorParallel, shape),
            parameters, stage);
        return layerSets.Sum(l => plan.Recompute ? l.Input.Bytes : l.Kept.Sum(t => t.Bytes)) + extras.Sum(t => t.Bytes);
    }

    // Each layer of the stage (its input and what it keeps for the backward pass), and what else the stage keeps.
    private static ((TensorFootprint Input, IReadOnlyList<TensorFootprint> Kept)[] Layers, List<TensorFootprint> Extras)
        StageActivations(T5ModelConfig model, PlacementPlan plan, ActivationFootprint act, TensorParallelPlan parameters,
            int stage)
    {
        var encoderLayers = LayerRange(plan.EncoderLayersPerStage, stage);
        var decoderLayers = LayerRange(plan.DecoderLayersPerStage, stage);
        var layerSets = encoderLayers.Select(i => (Input: act.LayerInput(false, i), Kept: act.EncoderLayer(i)))
            .Concat(decoderLayers.Select(i => (Input: act.LayerInput(true, i), Kept: act.DecoderLayer(i))))
            .ToArray();
        var extras = new List<TensorFootprint>();
        if (decoderLayers.Length > 0) extras.Add(act.EncoderOutput);
        if (encoderLayers.Contains(model.NumLayers - 1)) extras.AddRange(act.EncoderFinalNorm);
        if (stage == 0) extras.AddRange(act.Embedding);
        if (plan.Recompute && !plan.PhasedExecution)
        {
            if (encoderLayers.Length > 0) extras.AddRange(act.AttentionBiases(false));
            if (decoderLayers.Length > 0) extras.AddRange(act.AttentionBiases(true));
        }
        if (stage == plan.PipelineStages - 1) extras.AddRange(act.LmHead(parameters.PaddedVocab));
        return (layerSets, extras);
    }

    /// <summary>Indices of the layers a stage holds, from the per-stage counts.</summary>
    public static int[] LayerRange(IReadOnlyList<int> perStage, int stage)
    {
        var first = perStage.Take(stage).Sum();
        return Enumerable.Range(first, perStage[stage]).ToArray();
    }

    private static long Shard(long bytes, long parts) => (bytes + parts - 1) / parts;
}
