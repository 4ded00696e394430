using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// A change to a serving plan that does not fit ("tensor-parallel 8", "weights streaming", "precision fp16",
/// "batch 2"), with the plan, shape and target it makes and their memory plan, which fits.
/// </summary>
public sealed record ServingAlternative(string Change, PlacementPlan Plan, ServingShape Shape, IpuTarget Target, ServingMemoryReport Memory);

/// <summary>
/// Per-IPU memory of a weights-only (serving) session: no gradients, no optimizer state, no activations kept for a
/// backward pass. Weights are the session's parameters sharded as <see cref="TensorParallelPlan"/> shards them
/// (heads, d_ff and vocabulary split over the tp ranks, norms replicated), at <see cref="ServingShape.Precision"/>:
/// the whole shard on chip, or, with weights in streaming memory (phased execution, as the reference inference
/// notebooks ran Flan-T5 XL on an IPU-POD4 and XXL on an IPU-POD16), <see cref="MemoryPlanner.StreamedWeightBuffers"/>
/// buffers of the largest phase unit on chip and the shard in streaming memory. On top: the KV cache of the stage's
/// decoder layers, the encoder output, the larger of the working sets of an encoder layer's pass and a decode step
/// (<see cref="ServingFootprint"/>), and the same overhead reserve as training plans.
/// </summary>
public sealed class ServingPlanner(double overheadFraction = MemoryPlanner.DefaultOverheadFraction)
{
    public double OverheadFraction { get; } = overheadFraction is >= 0 and < 1
        ? overheadFraction
        : throw new ArgumentOutOfRangeException(nameof(overheadFraction), overheadFraction, "expected 0 <= fraction < 1");

    public ServingMemoryReport Plan(T5ModelConfig model, PlacementPlan plan, ServingShape shape, IpuTarget target,
        EmbeddingLayout layout = EmbeddingLayout.Shared)
    {
        plan.Validate(model);
        shape.Validate();
        plan.RequireIpus(target);
        var parameters = TensorParallelPlan.Build(model, plan, layout);
        var stages = Enumerable.Range(0, plan.PipelineStages)
            .Select(s => PlanStage(model, plan, shape, target, parameters, s))
            .ToArray();
        return new ServingMemoryReport(plan.PerIpu((ipu, replica, stage, rank) =>
            stages[stage] with { Ipu = ipu, Replica = replica, Stage = stage, TpRank = rank }));
    }

    /// <summary>
    /// For a plan that does not fit, the single changes that make it fit: the smallest larger tensor-parallel degree,
    /// weights in streaming memory, fp16 instead of fp32, the largest smaller batch. Empty when none does alone.
    /// </summary>
    public IReadOnlyList<ServingAlternative> WaysToFit(T5ModelConfig model, PlacementPlan plan, ServingShape shape,
        IpuTarget target, EmbeddingLayout layout = EmbeddingLayout.Shared)
    {
        var found = new List<ServingAlternative>();
        ServingAlternative? Try(string change, PlacementPlan p, ServingShape s)
        {
            var t = target with { IpuCount = Math.Max(target.IpuCount, p.IpuCount) };
            var report = Plan(model, p, s, t, layout);
            return report.Fits ? new ServingAlternative(change, p, s, t, report) : null;
        }
        ServingAlternative? WithBatch(int batch) => Try($"batch {batch}", plan, shape with { Batch = batch });

        for (var tp = plan.TensorParallel + 1; tp <= model.NumHeads; tp++)
        {
            if (model.NumHeads % tp != 0 || model.DFf % tp != 0) continue;
            if (Try($"tensor-parallel {tp}", plan with { TensorParallel = tp }, shape) is { } wider)
            {
                found.Add(wider);
                break;
            }
        }
        if (plan.WeightsLocation == TensorLocation.OnChip && plan.PipelineStages == 1
            && Try("weights streaming", plan with { WeightsLocation = TensorLocation.Streaming, OptimizerLocation = TensorLocation.Streaming }, shape) is { } streamed)
            found.Add(streamed);
        if (shape.Precision == NumericPrecision.Fp32 && Try("precision fp16", plan, shape with { Precision = NumericPrecision.Fp16 }) is { } half)
            found.Add(half);
        // Memory grows with the batch, so the largest batch that fits is found by bisection.
        if (shape.Batch > 1 && WithBatch(1) is { } smallest)
        {
            var (lo, best) = (1, smallest);
            var hi = shape.Batch; // lo fits, hi does not
            while (hi - lo > 1)
            {
                var mid = lo + (hi - lo) / 2;
                if (WithBatch(mid) is { } fits) (lo, best) = (mid, fits);
                else hi = mid;
            }
            found.Add(best);
        }
        return found;
    }

    /// <summary>One tp rank of one stage (all ranks and replicas of a stage need the same).</summary>
    private ServingIpuMemory PlanStage(T5ModelConfig model, PlacementPlan plan, ServingShape shape, IpuTarget target,
        TensorParallelPlan parameters, int stage)
    {
        int wb = shape.Precision.Bytes();
        var stageParams = parameters.Parameters.Where(p => p.Stages.Contains(stage)).ToArray();
        long elements = stageParams.Sum(p => p.ShardElements);
        var units = parameters.UnitsOnStage(stage);
        long unit = units.Max(u => u.Elements);
        var largestUnit = units.First(u => u.Elements == unit).Unit;
        var streamed = plan.WeightsLocation == TensorLocation.Streaming;
        long weights = (streamed ? MemoryPlanner.StreamedWeightBuffers * unit : elements) * wb;

        var act = new ServingFootprint(model, plan.TensorParallel, shape);
        var encoderLayers = MemoryPlanner.LayerRange(plan.EncoderLayersPerStage, stage);
        var decoderLayers = MemoryPlanner.LayerRange(plan.DecoderLayersPerStage, stage);
        var last = stage == plan.PipelineStages - 1;
        var selfCache = act.SelfAttentionCache(decoderLayers.Length);
        var crossCache = act.CrossAttentionCache(decoderLayers.Length);
        long kv = selfCache.Bytes + crossCache.Bytes;
        long encoderOutput = decoderLayers.Length > 0 ? act.EncoderOutput.Bytes : 0;
        IReadOnlyList<TensorFootprint> encoderPass = encoderLayers.Length > 0 ? act.EncoderPass : [];
        IReadOnlyList<TensorFootprint> decodeStep = decoderLayers.Length > 0 || last ? act.DecodeStep(last, parameters.PaddedVocab) : [];
        var working = Math.Max(encoderPass.Sum(t => t.Bytes), decodeStep.Sum(t => t.Bytes));

        var largest = new List<TensorFootprint>();
        if (streamed)
            largest.Add(new TensorFootprint($"{largestUnit} weights ({MemoryPlanner.StreamedWeightBuffers} phase buffers, {shape.Precision.Name()})", weights));
        else
            largest.AddRange(stageParams.Select(p => new TensorFootprint(
                $"{p.Name} shard [{string.Join(",", p.ShardShape)}] {shape.Precision.Name()}", p.ShardElements * wb)));
        if (decoderLayers.Length > 0)
        {
            largest.Add(selfCache);
            largest.Add(crossCache);
            largest.Add(act.EncoderOutput);
        }
        largest.AddRange(encoderPass.Sum(t => t.Bytes) >= decodeStep.Sum(t => t.Bytes) ? encoderPass : decodeStep);

        return new ServingIpuMemory
        {
            Ipu = 0,
            Replica = 0,
            Stage = stage,
            TpRank = 0,
            Weights = weights,
            KvCache = kv,
            EncoderOutput = encoderOutput,
            WorkingSet = working,
            Overhead = (long)Math.Round(OverheadFraction * target.OnChipBytesPerIpu),
            Capacity = target.OnChipBytesPerIpu,
            StreamingUsed = streamed ? elements * wb : 0,
            StreamingCapacity = target.StreamingBytesPerIpu,
            LargestTensors = largest.OrderByDescending(t => t.Bytes).ThenBy(t => t.Name, StringComparer.Ordinal).Take(5).ToArray(),
        };
    }
}
