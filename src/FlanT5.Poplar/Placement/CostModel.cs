using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// Predicts the time of one training step for a plan on a target. IPUs run bulk-synchronously (compute, then
/// exchange), so the components are added, not overlapped:
/// - Compute: matmul FLOPs per tp rank (projections 2·tokens·in·out, attention 4·B·h·S_q·S_kv·d_kv, LM head
///   2·tokens·d·V/t; backward = 2 × forward; recomputation = 1 more forward of every layer, never the LM head) at
///   the target's fp16 or fp32 peak × <see cref="ComputeEfficiency"/>. Element-wise work (norms, softmax, gelu) is
///   left to the efficiency factor.
/// - Tensor parallel: Megatron all-reduces of [B,S,d] activations — per encoder layer 2 forward + 2 backward
///   (+2 when recomputed), per decoder layer 3 + 3 (+3) and 1 for the encoder-output gradient of cross-attention;
///   2 for the embeddings, 1 for the LM head input gradient, 3 small fp32 ones for the sharded cross-entropy.
///   Ring all-reduce time 2(t−1)/t × bytes / IPU-Link bandwidth; all-gather (t−1)/t × bytes / bandwidth. The
///   bandwidth is the chip's whole 320 GB/s, which is optimistic for one ring (it uses 2 of the 10 links); the
///   calibration absorbs the difference, and <see cref="IpuTarget.IpuLinkBytesPerSecond"/> can be lowered.
/// - Pipeline: step = m × the slowest stage's time per micro-batch + every other stage's once (the pipeline fills
///   and drains through them); that second part is reported as the bubble: (p − 1)/(m + p − 1) of the step when the
///   stages are equal, and with one micro-batch the step is the sum of the stages. Each stage boundary carries [B,S_src,d] + [B,S_tgt,d] forward
///   (hidden states, encoder output or decoder embeddings) and their gradients backward. A stage that holds more than
///   one micro-batch in flight keeps each in its stash: what its backward pass reads is saved after the forward and
///   restored before the backward (dynamicUpdate / dynamicSlice, each exchanging twice the bytes), over the chip's
///   exchange (<see cref="IpuTarget.ExchangeBytesPerSecond"/>).
/// - Data parallel: ring all-reduce of the gradients, 2(d−1)/d × bytes / IPU-Link bandwidth (IPU-POD64's replicas
///   talk over the IPU-Link torus). With phased execution the streamed state is sharded across replicas: gradients
///   are reduce-scattered ((d−1)/d) and the weights all-gathered at each of the two loads.
/// - Across IPU-Link domains (more than <see cref="IpuTarget.IpusPerLinkDomain"/> = 64 IPUs: IPU-POD128 and up), the
///   reduction is hierarchical: the ring above runs inside each domain over its r = d / L replicas, then each IPU
///   reduces its 1/r slice with the same IPU of the other L domains over GW-Links: 2(L−1)/L × G/r bytes
///   (G = gradient bytes per IPU; phased: (L−1)/L × G/r + 2(L−1)/L × W/r) / <see cref="IpuTarget.GwLinkBytesPerSecond"/>.
///   An IPU-POD64 is one domain, so however many host instances drive it (poprun --num-instances 4), its gradients
///   never cross a GW-Link and this term is 0.
/// - Streaming memory, phased execution: per step each IPU reads its weight shard 3 times (forward phase, backward
///   phase, optimizer phase) and writes it once, writes and reads its gradients once, reads and writes Adam m and v,
///   and stores and loads every micro-batch's layer inputs and their gradients (sharded across the tp group).
///   Optimizer state alone in streaming memory: m and v read and written once per step. Over
///   <see cref="IpuTarget.StreamingBytesPerSecond"/>.
/// - Host I/O: token ids and labels over PCIe. Sync: one 15 ns × (1 + IPUs/4) sync per collective and per
///   layer pass (poplibs' sync model).
///
/// Calibration: one factor, <see cref="DefaultComputeEfficiency"/>, the fraction of peak matmul throughput reached,
/// fitted by <see cref="Calibrate"/> so that the geometric mean of predicted / published over the two published
/// reference runs (XXL on IPU-POD16 ≈ 36 s, XL on 8 IPUs ≈ 16 s; see <see cref="ReferencePresets"/>) is 1.
/// The fitted value is low (≈ 4 % of peak): at micro batch 1 and tp 8–16 every per-IPU matmul is thin
/// ([512 × d] × [d × 256…640]), the reference limits matmul temporaries to 20 % of tile memory
/// (available_memory_proportion 0.2), and everything the model does not count — element-wise work, attention
/// serialisation, per-phase code loading and host-side control — ends up in this factor.
/// </summary>
public sealed class CostModel(double computeEfficiency = CostModel.DefaultComputeEfficiency)
{
    /// <summary>Fitted by <see cref="Calibrate"/> on the published XXL/POD16 and XL/POD8 step times (a test checks it).</summary>
    public const double DefaultComputeEfficiency = 0.0472;

    public double ComputeEfficiency { get; } = computeEfficiency is > 0 and <= 1
        ? computeEfficiency
        : throw new ArgumentOutOfRangeException(nameof(computeEfficiency), computeEfficiency, "expected 0 < efficiency <= 1");

    public StepTimeEstimate Estimate(T5ModelConfig model, PlacementPlan plan, TrainingShape shape, IpuTarget target,
        EmbeddingLayout layout = EmbeddingLayout.Shared)
    {
        plan.Validate(model);
        shape.Validate(plan);
        var parameters = TensorParallelPlan.Build(model, plan, layout);
        int t = plan.TensorParallel, p = plan.PipelineStages, d = plan.Replicas;
        var m = shape.GradientAccumulation(plan);
        double b = shape.MicroBatch, src = shape.SourceLength, tgt = shape.TargetLength, dm = model.DModel;
        double a = shape.Precision.Bytes(), wb = a, ab = shape.AccumulatorPrecision.Bytes(), ob = shape.OptimizerStatePrecision.Bytes();
        var flopsPerSecond = target.PeakFlopsPerSecond(shape.Precision) * ComputeEfficiency;
        var link = target.IpuLinkBytesPerSecond;
        double srcAct = b * src * dm * a, tgtAct = b * tgt * dm * a;

        double AllReduce(double bytes) => t > 1 ? 2.0 * (t - 1) / t * bytes / link : 0;
        double AllGather(double bytes) => t > 1 ? (double)(t - 1) / t * bytes / link : 0;

        var stageCompute = new double[p];
        var stageCollectives = new double[p];
        var stageTransfer = new double[p];
        var stageFlops = new double[p];
        var stageSyncs = new double[p];
        for (var s = 0; s < p; s++)
        {
            var encoder = MemoryPlanner.LayerRange(plan.EncoderLayersPerStage, s);
            var decoder = MemoryPlanner.LayerRange(plan.DecoderLayersPerStage, s);
            var last = s == p - 1;
            double layerFlops = encoder.Length * EncoderLayerFlops(model, t, shape) + decoder.Length * DecoderLayerFlops(model, t, shape);
            double headFlops = last ? 2 * b * tgt * dm * parameters.PaddedVocab / t : 0;
            var flops = 3 * (layerFlops + headFlops) + (plan.Recompute ? layerFlops : 0);
            stageFlops[s] = flops;
            stageCompute[s] = flops / flopsPerSecond;

            var passes = plan.Recompute ? 3 : 2;
            double collectives = 0, count = 0;
            collectives += encoder.Length * passes * 2 * AllReduce(srcAct);
            collectives += decoder.Length * (passes * 3 * AllReduce(tgtAct) + AllReduce(srcAct));
            count += encoder.Length * passes * 2 + decoder.Length * (passes * 3 + 1);
            if (s == 0) { collectives += AllReduce(srcAct) + AllReduce(tgtAct); count += 2; }
            if (last) { collectives += AllReduce(tgtAct) + 3 * AllReduce(b * tgt * 4); count += 4; }
            if (plan.PhasedExecution)
            {
                // Stored layer inputs are sharded across the tp group: gathered in the forward phase (input) and the
                // backward phase (input and output gradient); decoder layers also gather the encoder output twice.
                collectives += encoder.Length * 3 * AllGather(srcAct) + decoder.Length * (3 * AllGather(tgtAct) + 2 * AllGather(srcAct));
                count += encoder.Length * 3 + decoder.Length * 5;
            }
            stageCollectives[s] = collectives;
            stageSyncs[s] = (t > 1 ? count : 0) + passes * (encoder.Length + decoder.Length);
            // Each stage boundary carries [B,S_src,d] + [B,S_tgt,d] forward and their gradients backward; a stage
            // takes part in the exchanges of both its boundaries.
            var boundaries = (s > 0 ? 1 : 0) + (last ? 0 : 1);
            stageTransfer[s] = boundaries * 2 * (srcAct + tgtAct) / link
                               + 4 * StashedBytes(model, plan, shape, parameters, s, m) / target.ExchangeBytesPerSecond;
        }
        var stageTime = Enumerable.Range(0, p).Select(s => stageCompute[s] + stageCollectives[s] + stageTransfer[s]).ToArray();
        var slowest = Enumerable.Range(0, p).MaxBy(s => stageTime[s]);

        double elements = Enumerable.Range(0, p).Max(parameters.ElementsOnStage);
        var (domains, perDomain) = LinkDomains(plan, target);
        var dataParallel = ReplicaReduction(perDomain, elements, ab, wb, plan.PhasedExecution) / link;
        // Between domains each IPU reduces only its 1/perDomain slice, left by the reduction inside its domain.
        var gwLink = ReplicaReduction(domains, elements / perDomain, ab, wb, plan.PhasedExecution) / target.GwLinkBytesPerSecond;

        double streamingBytes = 0;
        if (plan.PhasedExecution)
        {
            streamingBytes += (4 * wb + 2 * ab) * elements / d;
            var perLayerInputs = model.NumLayers * srcAct + model.NumDecoderLayers * (tgtAct + srcAct);
            // Forward store + backward load of each input, store + load of its gradient (decoder layers: the same
            // for their encoder output); sharded across the tp group.
            streamingBytes += m * 4 * perLayerInputs / t;
            if (!plan.Recompute)
            {
                var act = new ActivationFootprint(model, t, shape);
                var kept = Enumerable.Range(0, model.NumLayers).Sum(i => act.EncoderLayer(i).Sum(x => (double)x.Bytes))
                           + Enumerable.Range(0, model.NumDecoderLayers).Sum(i => act.DecoderLayer(i).Sum(x => (double)x.Bytes));
                streamingBytes += m * 2 * kept;
            }
        }
        if (plan.OptimizerLocation == TensorLocation.Streaming) streamingBytes += 4 * ob * elements / d;

        var hostBytes = m * b * (src + 2 * tgt) * 4;
        var syncs = m * stageSyncs[slowest] + (stageSyncs.Sum() - stageSyncs[slowest])
                    + (plan.PhasedExecution ? 3 * (model.NumLayers + model.NumDecoderLayers + 2) : 1);
        return new StepTimeEstimate
        {
            ComputeSeconds = m * stageCompute[slowest],
            TensorParallelSeconds = m * stageCollectives[slowest],
            PipelineBubbleSeconds = stageTime.Sum() - stageTime[slowest],
            PipelineTransferSeconds = m * stageTransfer[slowest],
            DataParallelSeconds = dataParallel,
            GwLinkSeconds = gwLink,
            StreamingSeconds = streamingBytes / target.StreamingBytesPerSecond,
            HostIoSeconds = hostBytes / target.PcieBytesPerSecond,
            SyncSeconds = syncs * target.SyncSeconds,
            FlopsPerIpu = m * stageFlops[slowest],
            StreamingBytesPerIpu = streamingBytes,
            MicroBatchesPerReplica = m,
            ComputeEfficiency = ComputeEfficiency,
        };
    }

    /// <summary>One micro-batch's bytes in a stage's stash: none unless the stage holds more than one in flight.</summary>
    private static double StashedBytes(T5ModelConfig model, PlacementPlan plan, TrainingShape shape,
        TensorParallelPlan parameters, int stage, int microBatches)
    {
        var inFlight = plan.PipelineStages == 1 || plan.PhasedExecution ? 1
            : plan.Schedule == PipelineSchedule.GPipe ? microBatches
            : Math.Min(microBatches, plan.PipelineStages - stage);
        return inFlight > 1 ? MemoryPlanner.KeptPerMicroBatch(model, plan, shape, parameters, stage) : 0;
    }

    /// <summary>
    /// Bytes one IPU sends to reduce its gradients (<paramref name="elements"/> of them) over a ring of
    /// <paramref name="ring"/> replicas: a ring all-reduce sends 2(n−1)/n of them (accumulator bytes); with phased
    /// execution the state is sharded across replicas instead, so gradients are reduce-scattered ((n−1)/n) and the
    /// weights all-gathered at each of the two loads (2 × (n−1)/n, weight bytes). 0 for a ring of one.
    /// </summary>
    public static double ReplicaReduction(int ring, double elements, double accumulatorBytes, double weightBytes, bool phased)
    {
        if (ring <= 1) return 0;
        double share = (double)(ring - 1) / ring;
        return phased ? share * elements * accumulatorBytes + 2 * share * elements * weightBytes : 2 * share * elements * accumulatorBytes;
    }

    /// <summary>
    /// The IPU-Link domains the plan's replicas span and the replicas in each. The reduction across replicas is
    /// hierarchical: inside each domain over IPU-Links, then between the domains over GW-Links. Throws
    /// <see cref="InvalidPlanException"/> when a replica would straddle two domains or the domains would hold unequal
    /// numbers of replicas.
    /// </summary>
    public static (int Domains, int ReplicasPerDomain) LinkDomains(PlacementPlan plan, IpuTarget target)
    {
        var domainIpus = target.IpusPerLinkDomain;
        if (domainIpus < 1) throw new InvalidPlanException("ipus_per_link_domain", $"{domainIpus}; expected >= 1");
        if (plan.IpuCount <= domainIpus) return (1, plan.Replicas);
        if (domainIpus % plan.IpusPerReplica != 0)
            throw new InvalidPlanException("ipus_per_link_domain",
                $"{domainIpus} is not a multiple of the {plan.IpusPerReplica} IPUs of a replica; a replica's tensor-parallel and pipeline links stay inside one IPU-Link domain");
        if (plan.IpuCount % domainIpus != 0)
            throw new InvalidPlanException("ipus_per_link_domain",
                $"{domainIpus} does not divide the plan's {plan.IpuCount} IPUs into whole IPU-Link domains");
        var perDomain = domainIpus / plan.IpusPerReplica;
        return (plan.Replicas / perDomain, perDomain);
    }

    /// <summary>Whether <see cref="LinkDomains"/> accepts the plan: its replicas fill whole IPU-Link domains evenly.</summary>
    public static bool FitsLinkDomains(PlacementPlan plan, IpuTarget target) =>
        target.IpusPerLinkDomain >= 1 && (plan.IpuCount <= target.IpusPerLinkDomain
            || (target.IpusPerLinkDomain % plan.IpusPerReplica == 0 && plan.IpuCount % target.IpusPerLinkDomain == 0));

    /// <summary>Forward matmul FLOPs of one encoder layer on one tp rank for one micro-batch.</summary>
    public static double EncoderLayerFlops(T5ModelConfig model, int tensorParallel, TrainingShape shape)
    {
        double b = shape.MicroBatch, s = shape.SourceLength, d = model.DModel;
        double inner = (double)model.InnerDim / tensorParallel, heads = (double)model.NumHeads / tensorParallel, ff = (double)model.DFf / tensorParallel;
        var projections = 2 * b * s * d * 4 * inner;
        var attention = 4 * b * heads * s * s * model.DKv;
        return projections + attention + FeedForwardFlops(model, b * s, d, ff);
    }

    /// <summary>Forward matmul FLOPs of one decoder layer (self-attention, cross-attention, FFN) on one tp rank.</summary>
    public static double DecoderLayerFlops(T5ModelConfig model, int tensorParallel, TrainingShape shape)
    {
        double b = shape.MicroBatch, src = shape.SourceLength, tgt = shape.TargetLength, d = model.DModel;
        double inner = (double)model.InnerDim / tensorParallel, heads = (double)model.NumHeads / tensorParallel, ff = (double)model.DFf / tensorParallel;
        var self = 2 * b * tgt * d * 4 * inner + 4 * b * heads * tgt * tgt * model.DKv;
        var cross = 2 * b * tgt * d * 2 * inner + 2 * b * src * d * 2 * inner + 4 * b * heads * tgt * src * model.DKv;
        return self + cross + FeedForwardFlops(model, b * tgt, d, ff);
    }

    internal static double FeedForwardFlops(T5ModelConfig model, double tokens, double d, double ff) =>
        2 * tokens * d * ff * (model.FeedForward == FeedForwardKind.GatedGelu ? 3 : 2);

    /// <summary>
    /// The compute efficiency for which the geometric mean of predicted / published step time over
    /// <paramref name="points"/> is 1 (bisection; the prediction falls monotonically as efficiency grows).
    /// </summary>
    public static double Calibrate(IEnumerable<(T5ModelConfig Model, PlacementPlan Plan, TrainingShape Shape, IpuTarget Target, double PublishedSeconds)> points)
    {
        var list = points.ToArray();
        if (list.Length == 0) throw new ArgumentException("calibration needs at least one published step time", nameof(points));
        double LogError(double efficiency) => list.Sum(x =>
            Math.Log(new CostModel(efficiency).Estimate(x.Model, x.Plan, x.Shape, x.Target).TotalSeconds / x.PublishedSeconds));
        double lo = 1e-4, hi = 1.0;
        if (LogError(hi) > 0) return hi;
        if (LogError(lo) < 0) return lo;
        for (var i = 0; i < 60; i++)
        {
            var mid = Math.Sqrt(lo * hi);
            if (LogError(mid) > 0) lo = mid;
            else hi = mid;
        }
        return Math.Sqrt(lo * hi);
    }
}
