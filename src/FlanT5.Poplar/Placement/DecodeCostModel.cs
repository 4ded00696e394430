using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// Predicts the decode speed of a serving plan with the terms of <see cref="CostModel"/>, for a step that makes one
/// new token for each of the B rows (h = heads / t, i = inner / t, f = d_ff / t, L = the mean number of cached
/// positions, (T + 1) / 2, so a step stands for the average of a generation of T tokens):
/// - Compute: per decoder layer q,k,v,o 2·B·d·4i, cross-attention q,o 2·B·d·2i, attention 4·B·h·(L + S)·d_kv, the
///   feed-forward 2·B·d·f × 3 (gated) or × 2; the LM head 2·B·d·V/t; at the target's peak × the training-calibrated
///   <see cref="CostModel.DefaultComputeEfficiency"/> (decode matmuls are thinner, [B × d], so this is if anything
///   optimistic).
/// - Tile memory: a step reads every decoder weight, the LM head and the KV cache once, at
///   <see cref="IpuTarget.TileMemoryBytesPerSecond"/>; added to compute (bulk-synchronous, conservative).
/// - Tensor parallel: per decoder layer 3 all-reduces of [B,1,d] (self-attention o, cross-attention o, wo), 1 for
///   the vocabulary-sharded embedding, 1 all-gather of each rank's best logit and id [B,2] fp32 for greedy; ring
///   times as in <see cref="CostModel"/>, one sync each.
/// - Streaming (phased execution): every step loads the embedding, the decoder blocks and the LM head from streaming
///   memory at <see cref="IpuTarget.StreamingBytesPerSecond"/>, one phase (and sync) per unit.
/// - Pipeline: one batch in flight, so a step is the sum of the stages; each boundary carries [B,1,d].
/// - Host: B token ids each way per step (the host picks the next token, as the reference's greedy loop).
/// Prefill, once per batch: the encoder over [B,S] (<see cref="CostModel.EncoderLayerFlops"/>, 2 all-reduces of
/// [B,S,d] per layer and 1 for the embedding) and each decoder layer's cross-attention K,V projections 2·B·S·d·2i.
/// </summary>
public sealed class DecodeCostModel(double computeEfficiency = CostModel.DefaultComputeEfficiency)
{
    public double ComputeEfficiency { get; } = computeEfficiency is > 0 and <= 1
        ? computeEfficiency
        : throw new ArgumentOutOfRangeException(nameof(computeEfficiency), computeEfficiency, "expected 0 < efficiency <= 1");

    public DecodeTimeEstimate Estimate(T5ModelConfig model, PlacementPlan plan, ServingShape shape, IpuTarget target,
        EmbeddingLayout layout = EmbeddingLayout.Shared)
    {
        plan.Validate(model);
        shape.Validate();
        var parameters = TensorParallelPlan.Build(model, plan, layout);
        int t = plan.TensorParallel, p = plan.PipelineStages;
        double b = shape.Batch, src = shape.SourceLength, a = shape.Precision.Bytes(), dm = model.DModel;
        double inner = (double)model.InnerDim / t, heads = (double)model.NumHeads / t, ff = (double)model.DFf / t;
        double cached = (shape.TargetLength + 1) / 2.0;
        var flopsPerSecond = target.PeakFlopsPerSecond(shape.Precision) * ComputeEfficiency;
        var link = target.IpuLinkBytesPerSecond;
        double AllReduce(double bytes) => t > 1 ? 2.0 * (t - 1) / t * bytes / link : 0;
        double AllGather(double bytes) => t > 1 ? (double)(t - 1) / t * bytes / link : 0;

        double compute = 0, tile = 0, collectives = 0, streaming = 0, transfer = 0, syncs = 0;
        double prefill = 0, flopsPerIpu = 0, tileBytesPerIpu = 0, streamedPerIpu = 0;
        for (var s = 0; s < p; s++)
        {
            int encoder = plan.EncoderLayersPerStage[s], decoder = plan.DecoderLayersPerStage[s];
            bool first = s == 0, last = s == p - 1;
            var stageParams = parameters.Parameters.Where(x => x.Stages.Contains(s)).ToArray();
            double Bytes(Func<ParameterShard, bool> which) => stageParams.Where(which).Sum(x => (double)x.ShardElements) * a;
            var decodeWeights = Bytes(x => x.Unit.StartsWith("decoder.", StringComparison.Ordinal) || x.Unit == "lm_head"
                                           || (x.Unit == "embedding" && last && model.TieWordEmbeddings));
            var encoderWeights = Bytes(x => x.Unit.StartsWith("encoder.", StringComparison.Ordinal));
            var streamedUnits = stageParams.Where(x => x.Unit is "embedding" or "lm_head" || x.Unit.StartsWith("decoder.", StringComparison.Ordinal))
                .Select(x => x.Unit).Distinct().Count();

            var layerFlops = 2 * b * dm * 4 * inner + 2 * b * dm * 2 * inner + 4 * b * heads * (cached + src) * model.DKv
                             + CostModel.FeedForwardFlops(model, b, dm, ff);
            var stepFlops = decoder * layerFlops + (last ? 2 * b * dm * parameters.PaddedVocab / t : 0);
            flopsPerIpu += stepFlops;
            compute += stepFlops / flopsPerSecond;

            var kvBytes = decoder * 2 * b * (cached + src) * inner * a;
            var lookup = first ? b * dm * a : 0;
            tileBytesPerIpu += decodeWeights + kvBytes + lookup;
            tile += (decodeWeights + kvBytes + lookup) / target.TileMemoryBytesPerSecond;

            var hidden = b * dm * a;
            collectives += decoder * 3 * AllReduce(hidden) + (first ? AllReduce(hidden) : 0) + (last ? AllGather(b * 2 * 4) : 0);
            var count = decoder * 3 + (first ? 1 : 0) + (last ? 1 : 0);
            syncs += (t > 1 ? count : 0) + decoder;

            if (plan.PhasedExecution)
            {
                var loaded = Bytes(x => x.Unit is "embedding" or "lm_head" || x.Unit.StartsWith("decoder.", StringComparison.Ordinal));
                streamedPerIpu += loaded;
                streaming += loaded / target.StreamingBytesPerSecond;
                syncs += streamedUnits;
            }
            var boundaries = (first ? 0 : 1) + (last ? 0 : 1);
            transfer += boundaries * hidden / link;

            // Prefill: the encoder over the source, then each decoder layer projects the encoder output to K and V.
            var forward = shape.AsForwardPass(targetLength: 1);
            var prefillFlops = encoder * CostModel.EncoderLayerFlops(model, t, forward) + decoder * 2 * b * src * dm * 2 * inner;
            var sourceActivations = b * src * dm * a;
            var prefillCollectives = encoder * 2 + (first ? 1 : 0);
            // Phased, the prefill loads every unit of the stage once except the LM head.
            var prefillLoaded = Bytes(x => x.Unit != "lm_head");
            prefill += prefillFlops / flopsPerSecond
                       + encoderWeights / target.TileMemoryBytesPerSecond
                       + prefillCollectives * AllReduce(sourceActivations)
                       + (plan.PhasedExecution ? prefillLoaded / target.StreamingBytesPerSecond : 0)
                       + boundaries * sourceActivations / link
                       + ((t > 1 ? prefillCollectives : 0) + encoder + decoder) * target.SyncSeconds
                       + (first ? b * src * 4 / target.PcieBytesPerSecond : 0);
        }

        return new DecodeTimeEstimate
        {
            ComputeSeconds = compute,
            TileMemorySeconds = tile,
            TensorParallelSeconds = collectives,
            StreamingSeconds = streaming,
            PipelineTransferSeconds = transfer,
            HostIoSeconds = 2 * b * 4 / target.PcieBytesPerSecond,
            SyncSeconds = syncs * target.SyncSeconds,
            PrefillSeconds = prefill,
            Batch = shape.Batch,
            TargetLength = shape.TargetLength,
            Replicas = plan.Replicas,
            FlopsPerIpuPerStep = flopsPerIpu,
            TileBytesReadPerIpuPerStep = tileBytesPerIpu,
            StreamedBytesPerIpuPerStep = streamedPerIpu,
            ComputeEfficiency = ComputeEfficiency,
        };
    }
}
