using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class ServingPlannerTests
{
    // Small enough to count by hand: d 4, 2 heads of 2, d_ff 8, vocab 8, 4 buckets, 1 + 1 layers, gated, untied.
    private static readonly T5ModelConfig Tiny = new()
    {
        VocabSize = 8, DModel = 4, DKv = 2, DFf = 8, NumHeads = 2, NumLayers = 1, NumDecoderLayers = 1,
        RelativeAttentionNumBuckets = 4,
    };

    // Source 3 and target 2 differ so that a swapped length shows.
    private static readonly ServingShape TinyShape = new() { Batch = 1, SourceLength = 3, TargetLength = 2, Precision = NumericPrecision.Fp16 };

    private static IpuTarget TinyTarget(long bytes) => new() { IpuCount = 2, TilesPerIpu = 1, BytesPerTile = bytes, StreamingBytesPerIpu = 1 << 20 };

    private static readonly T5ModelConfig Xl = T5ModelConfig.FlanT5("xl");
    private static readonly T5ModelConfig Xxl = T5ModelConfig.FlanT5("xxl");

    // The reference inference notebook: XL on an IPU-POD4 with 4 rows, XXL on an IPU-POD16 with 3; 512 source tokens, 20 generated.
    private static readonly ServingShape Notebook = new() { Batch = 4, SourceLength = 512, TargetLength = 20 };

    private static PlacementPlan Serving(T5ModelConfig model, int tp, TensorLocation weights = TensorLocation.OnChip) =>
        PlacementPlan.Create(model, tp, weights: weights, optimizer: weights);

    private static ServingMemoryReport Plan(T5ModelConfig model, int tp, ServingShape shape, TensorLocation weights = TensorLocation.OnChip) =>
        new ServingPlanner().Plan(model, Serving(model, tp, weights), shape, IpuTarget.Mk2(tp));

    private static DecodeTimeEstimate Time(T5ModelConfig model, int tp, ServingShape shape, TensorLocation weights = TensorLocation.OnChip) =>
        new DecodeCostModel().Estimate(model, Serving(model, tp, weights), shape, IpuTarget.Mk2(tp));

    [Test]
    public void TinyModelIsCountedExactly()
    {
        var report = new ServingPlanner(0.2).Plan(Tiny, Serving(Tiny, 2), TinyShape, TinyTarget(10_000));
        Assert.That(report.Ipus, Has.Count.EqualTo(2));
        var ipu = report.Ipus[1];
        Assert.That((ipu.Ipu, ipu.Stage, ipu.TpRank), Is.EqualTo((1, 0, 1)));
        // Per tp rank (t = 2): shared [4,4] 16; encoder block: q,k,v [2,4] 24, o [4,2] 8, bias [4,1] 4, norm 4,
        // wi_0+wi_1 [4,4] 32, wo [4,4] 16, norm 4 = 92; encoder final norm 4; decoder block: self 24+8+4+4,
        // cross 24+8+4, FFN 32+16+4 = 128; final norm 4; lm_head [4,4] 16. 260 elements, 2 bytes each.
        Assert.That(ipu.Weights, Is.EqualTo(260 * 2));
        // One decoder layer, i = 2: self K+V 2 × [1,2,2] = 8 elements, cross K+V 2 × [1,3,2] = 12; fp16.
        Assert.That(ipu.KvCache, Is.EqualTo((8 + 12) * 2));
        Assert.That(ipu.EncoderOutput, Is.EqualTo(1 * 3 * 4 * 2));
        // Encoder pass (B 1, S 3, fp16): residual stream and norm output [1,3,4] 24 + 24, 1/rms fp32 [1,3] 12, then the
        // larger of the attention (q,k,v 3 × [1,3,2] 36 + probs [1,1,3,3] 18 + context 12 = 66) and the gated FFN
        // (3 × [1,3,4] 72); position bias [1,1,3,3] 18; input ids [1,3] int32 12: 162. A decode step is smaller:
        // hidden and norm [1,1,4] 8 + 8, then the largest of self-attention (q+context 8 + probs [1,1,1,2] 4),
        // cross-attention (8 + [1,1,1,3] 6), FFN 3 × [1,1,4] 24 and logits shard [1,4] 8; position bias [1,1,2] 4: 44.
        Assert.That(ipu.WorkingSet, Is.EqualTo(162));
        Assert.That(ipu.Overhead, Is.EqualTo(2000));
        Assert.That(ipu.Total, Is.EqualTo(520 + 40 + 24 + 162 + 2000));
        Assert.That(ipu.StreamingUsed, Is.Zero);
        Assert.That(report.Fits, Is.True);
    }

    [Test]
    public void StreamedWeightsKeepTwoBuffersOfTheLargestUnitOnChip()
    {
        var ipu = new ServingPlanner(0.2).Plan(Tiny, Serving(Tiny, 2, TensorLocation.Streaming), TinyShape, TinyTarget(10_000)).Ipus[0];
        // The largest phase unit is decoder.block.0 (128 elements per rank); the whole shard waits in streaming memory.
        Assert.That(ipu.Weights, Is.EqualTo(2 * 128 * 2));
        Assert.That(ipu.StreamingUsed, Is.EqualTo(260 * 2));
        Assert.That(ipu.KvCache, Is.EqualTo(40));
    }

    [Test]
    public void TinyDecodeStepIsCountedExactly()
    {
        var time = new DecodeCostModel().Estimate(Tiny, Serving(Tiny, 2), TinyShape, TinyTarget(10_000));
        // Mean cached positions (2 + 1) / 2 = 1.5. Decoder layer: q,k,v,o 2·1·4·4·2 = 64, cross q,o 2·1·4·2·2 = 32,
        // attention 4·1·1·(1.5 + 3)·2 = 36, FFN 2·1·4·4·3 = 96; LM head 2·1·4·8 / 2 = 32: 260 FLOPs.
        Assert.That(time.FlopsPerIpuPerStep, Is.EqualTo(260).Within(1e-9));
        Assert.That(time.ComputeSeconds, Is.EqualTo(260 / (250e12 * CostModel.DefaultComputeEfficiency)).Within(1e-9).Percent);
        // Tile reads: decoder block 128 + final norm and lm_head 20 elements, KV 2·1·(1.5 + 3)·2, the looked-up row 4; fp16.
        Assert.That(time.TileBytesReadPerIpuPerStep, Is.EqualTo((128 + 20 + 18 + 4) * 2).Within(1e-9));
        Assert.That(time.TileMemorySeconds, Is.EqualTo(340 / 47.5e12).Within(1e-9).Percent);
        // 3 all-reduces of [1,1,4] fp16 for the layer, 1 for the embedding: 2(t−1)/t × 8 bytes each; 1 all-gather of [1,2] fp32.
        Assert.That(time.TensorParallelSeconds, Is.EqualTo((4 * 8 + 0.5 * 8) / 320e9).Within(1e-9).Percent);
        Assert.That(time.StreamingSeconds, Is.Zero);
        Assert.That(time.StepSeconds, Is.EqualTo(time.Components.Sum(c => c.Seconds)).Within(1e-9).Percent);
        Assert.That(time.DecodeTokensPerSecond, Is.EqualTo(1 / time.StepSeconds).Within(1e-9).Percent);
    }

    [Test]
    public void XlOnFourIpusFitsInFp16WithStreamedWeightsAsTheNotebookRanIt()
    {
        var report = Plan(Xl, 4, Notebook, TensorLocation.Streaming);
        Assert.That(report.Fits, Is.True, report.OverflowMessage);
        Assert.That(report.Ipus, Has.Count.EqualTo(4));
        // 2.85 B parameters × 2 bytes / 4 ranks ≈ 1.43 GB per IPU in streaming memory.
        Assert.That(report.Ipus[0].StreamingUsed, Is.InRange(2.849e9 * 2 / 4, 2.86e9 * 2 / 4));
        Assert.That(report.PeakOnChip, Is.LessThan(report.Ipus[0].Capacity));
    }

    [Test]
    public void XlOnFourIpusWithWeightsOnChipIsRefusedNamingTheIpuAndTheWaysToFit()
    {
        var plan = Serving(Xl, 4);
        var report = new ServingPlanner().Plan(Xl, plan, Notebook, IpuTarget.Mk2(4));
        Assert.That(report.Fits, Is.False);
        // fp16 weights alone: 2.85 B × 2 bytes / 4 ≈ 1.43 GB per IPU > 940.6 MB.
        Assert.That(report.Ipus[0].Weights, Is.GreaterThan(report.Ipus[0].Capacity));
        Assert.That(report.OverflowMessage, Does.StartWith("IPU 0 (replica 0, stage 0, tp rank 0) needs 1.77 GB on-chip"));
        Assert.That(report.OverflowMessage, Does.Contain("but has 940.6 MB (940,572,672 bytes)"));
        Assert.That(report.OverflowMessage, Does.Contain("4 of 4 IPUs overflow"));
        var ways = new ServingPlanner().WaysToFit(Xl, plan, Notebook, IpuTarget.Mk2(4));
        Assert.That(ways.Select(w => w.Change), Is.EqualTo(new[] { "tensor-parallel 16", "weights streaming" }));
        Assert.That(ways.All(w => w.Memory.Fits), Is.True);
    }

    [Test]
    public void XlInFp32OrOnOneIpuIsRefused()
    {
        var fp32 = Plan(Xl, 4, Notebook with { Precision = NumericPrecision.Fp32 });
        Assert.That(fp32.Fits, Is.False);
        Assert.That(fp32.Ipus[0].Weights, Is.EqualTo(2 * Plan(Xl, 4, Notebook).Ipus[0].Weights));

        // Streamed, 8 rows in fp32 overflow 4 IPUs (the KV cache doubles with the element size); fp16 fits.
        var rows8 = Notebook with { Batch = 8, Precision = NumericPrecision.Fp32 };
        Assert.That(Plan(Xl, 4, rows8, TensorLocation.Streaming).Fits, Is.False);
        var fp32Ways = new ServingPlanner().WaysToFit(Xl, Serving(Xl, 4, TensorLocation.Streaming), rows8, IpuTarget.Mk2(4));
        Assert.That(fp32Ways.Select(w => w.Change), Is.EqualTo(new[] { "tensor-parallel 8", "precision fp16", "batch 7" }));
        Assert.That(Plan(Xl, 4, rows8 with { Batch = 7 }, TensorLocation.Streaming).Fits, Is.True);

        var one = Plan(Xl, 1, Notebook, TensorLocation.Streaming);
        Assert.That(one.Fits, Is.False);
        Assert.That(one.OverflowMessage, Does.StartWith("IPU 0 (replica 0, stage 0, tp rank 0) needs"));
        var ways = new ServingPlanner().WaysToFit(Xl, Serving(Xl, 1, TensorLocation.Streaming), Notebook, IpuTarget.Mk2(1));
        Assert.That(ways.Select(w => w.Change), Is.EqualTo(new[] { "tensor-parallel 2", "batch 3" }));
    }

    [Test]
    public void XxlOnSixteenIpusFitsWithStreamedWeights()
    {
        var shape = Notebook with { Batch = 3 };
        var report = Plan(Xxl, 16, shape, TensorLocation.Streaming);
        Assert.That(report.Fits, Is.True, report.OverflowMessage);
        // 11.14 B × 2 / 16 ≈ 1.39 GB of weights per IPU in streaming memory; on chip they would not fit.
        Assert.That(report.Ipus[15].StreamingUsed, Is.GreaterThan(1.39e9));
        Assert.That(Plan(Xxl, 16, shape).Fits, Is.False);
    }

    [Test]
    public void MoreTensorParallelismNeverRaisesMemoryPerIpuAndDecodesFaster()
    {
        int[] degrees = [1, 2, 4, 8, 16];
        var peaks = degrees.Select(t => Plan(Xl, t, Notebook, TensorLocation.Streaming).PeakOnChip).ToArray();
        var speeds = degrees.Select(t => Time(Xl, t, Notebook, TensorLocation.Streaming).DecodeTokensPerSecond).ToArray();
        Assert.That(peaks, Is.Ordered.Descending);
        Assert.That(speeds, Is.Ordered.Ascending);
        Assert.That(Time(Xl, 1, Notebook).TensorParallelSeconds, Is.Zero);
        Assert.That(Time(Xl, 8, Notebook).TensorParallelSeconds, Is.GreaterThan(0));
    }

    [Test]
    public void BiggerBatchesNeedMoreMemoryAndDecodeMoreTokens()
    {
        int[] batches = [1, 2, 4, 8, 16];
        foreach (var weights in new[] { TensorLocation.OnChip, TensorLocation.Streaming })
        {
            var peaks = batches.Select(b => Plan(Xl, 16, Notebook with { Batch = b }, weights).PeakOnChip).ToArray();
            var speeds = batches.Select(b => Time(Xl, 16, Notebook with { Batch = b }, weights).DecodeTokensPerSecond).ToArray();
            Assert.That(peaks, Is.Ordered.Ascending.And.Unique, weights.ToString());
            Assert.That(speeds, Is.Ordered.Ascending.And.Unique, weights.ToString());
        }
    }

    [Test]
    public void LongerTargetsGrowTheCacheAndSlowEachStep()
    {
        var shortRun = Notebook with { TargetLength = 20 };
        var longRun = Notebook with { TargetLength = 500 };
        Assert.That(Plan(Xl, 16, longRun).Ipus[0].KvCache, Is.GreaterThan(Plan(Xl, 16, shortRun).Ipus[0].KvCache));
        Assert.That(Time(Xl, 16, longRun).StepSeconds, Is.GreaterThan(Time(Xl, 16, shortRun).StepSeconds));
        // Prefill is paid once per batch, so a longer generation spreads it over more tokens.
        Assert.That(Time(Xl, 16, longRun).PrefillSeconds, Is.EqualTo(Time(Xl, 16, shortRun).PrefillSeconds).Within(1e-9).Percent);
    }

    [Test]
    public void StreamingAndFp32AreSlowerThanOnChipFp16()
    {
        var onChip = Time(Xl, 16, Notebook);
        var streamed = Time(Xl, 16, Notebook, TensorLocation.Streaming);
        var fp32 = Time(Xl, 16, Notebook with { Precision = NumericPrecision.Fp32 });
        Assert.That(streamed.DecodeTokensPerSecond, Is.LessThan(onChip.DecodeTokensPerSecond));
        // Each step streams the decoder blocks, the embedding and the LM head: ≈ 0.8 GB at 64 GB/s per IPU over 16.
        Assert.That(streamed.StreamingSeconds, Is.EqualTo(streamed.StreamedBytesPerIpuPerStep / 64e9).Within(1e-9).Percent);
        Assert.That(fp32.DecodeTokensPerSecond, Is.LessThan(onChip.DecodeTokensPerSecond));
        Assert.That(Plan(Xl, 16, Notebook with { Precision = NumericPrecision.Fp32 }).PeakOnChip, Is.GreaterThan(Plan(Xl, 16, Notebook).PeakOnChip));
    }

    [Test]
    public void PipelineStagesSplitTheCacheWithTheDecoderLayers()
    {
        var plan = PlacementPlan.Create(Xl, tensorParallel: 4, pipelineStages: 2);
        var staged = new ServingPlanner().Plan(Xl, plan, Notebook, IpuTarget.Mk2(8));
        var single = Plan(Xl, 4, Notebook);
        // The even split puts the 24 encoder layers on stage 0 and the 24 decoder layers on stage 1.
        var stage1 = plan.IpuIndex(0, 1, 0);
        Assert.That(staged.Ipus[stage1].Stage, Is.EqualTo(1));
        Assert.That(staged.Ipus[0].KvCache, Is.Zero);
        Assert.That(staged.Ipus[0].EncoderOutput, Is.Zero);
        Assert.That(staged.Ipus[stage1].KvCache, Is.EqualTo(single.Ipus[0].KvCache));
        Assert.That(staged.Ipus[stage1].EncoderOutput, Is.EqualTo(single.Ipus[0].EncoderOutput));
        Assert.That(staged.Ipus[0].Weights + staged.Ipus[stage1].Weights, Is.EqualTo(single.Ipus[0].Weights));
        var time = new DecodeCostModel().Estimate(Xl, plan, Notebook, IpuTarget.Mk2(8));
        Assert.That(time.PipelineTransferSeconds, Is.GreaterThan(0));
    }

    [Test]
    public void ReplicasMultiplyTokensPerSecond()
    {
        // On the same 32-IPU target (a global sync spans all of it): replicas decode their batches side by side.
        var one = new DecodeCostModel().Estimate(Xl, Serving(Xl, 16), Notebook, IpuTarget.Mk2(32));
        var two = new DecodeCostModel().Estimate(Xl, PlacementPlan.Create(Xl, tensorParallel: 16, replicas: 2), Notebook, IpuTarget.Mk2(32));
        Assert.That(two.DecodeTokensPerSecond, Is.EqualTo(2 * one.DecodeTokensPerSecond).Within(1e-9).Percent);
        Assert.That(two.TokensPerSecond, Is.EqualTo(2 * one.TokensPerSecond).Within(1e-9).Percent);
    }

    [Test]
    public void BadShapesAndTooFewIpusAreRefused()
    {
        var e = Assert.Throws<InvalidPlanException>(() => Plan(Xl, 4, Notebook with { Batch = 0 }))!;
        Assert.That(e.Message, Is.EqualTo("batch: 0; expected >= 1"));
        e = Assert.Throws<InvalidPlanException>(() => new ServingPlanner().Plan(Xl, Serving(Xl, 8), Notebook, IpuTarget.Mk2(4)))!;
        Assert.That(e.Message, Does.Contain("8 IPUs").And.Contain("has 4"));
    }
}
