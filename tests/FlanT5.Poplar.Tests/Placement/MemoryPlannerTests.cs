using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class MemoryPlannerTests
{
    // Small enough to count by hand: d 4, 2 heads of 2, d_ff 8, vocab 8, 4 buckets, 1 + 1 layers, gated, untied.
    private static readonly T5ModelConfig Tiny = new()
    {
        VocabSize = 8, DModel = 4, DKv = 2, DFf = 8, NumHeads = 2, NumLayers = 1, NumDecoderLayers = 1,
        RelativeAttentionNumBuckets = 4,
    };

    private static readonly TrainingShape TinyShape = new()
    {
        MicroBatch = 1, SourceLength = 2, TargetLength = 2, GlobalBatch = 1,
        Precision = NumericPrecision.Fp32, OptimizerStatePrecision = NumericPrecision.Fp32, AccumulatorPrecision = NumericPrecision.Fp32,
    };

    private static IpuTarget TinyTarget(long bytes) => new() { IpuCount = 2, TilesPerIpu = 1, BytesPerTile = bytes, StreamingBytesPerIpu = 1 << 20 };

    [Test]
    public void TinyModelIsCountedExactly()
    {
        // Per tp rank (t = 2): shared [4,4] 16; encoder block: q,k,v [2,4] 24, o [4,2] 8, bias [4,1] 4, norm 4,
        // wi_0+wi_1 [4,4] 32, wo [4,4] 16, norm 4 = 92; encoder final norm 4; decoder block: self 24+8+4+4,
        // cross 24+8+4, FFN 32+16+4 = 128; final norm 4; lm_head [4,4] 16. Total 260 elements, fp32.
        var plan = PlacementPlan.Create(Tiny, tensorParallel: 2);
        var report = new MemoryPlanner(0.2).Plan(Tiny, plan, TinyShape, TinyTarget(10_000));
        Assert.That(report.Ipus, Has.Count.EqualTo(2));
        var ipu = report.Ipus[1];
        Assert.That((ipu.Ipu, ipu.Replica, ipu.Stage, ipu.TpRank), Is.EqualTo((1, 0, 0, 1)));
        Assert.That(ipu.Weights, Is.EqualTo(260 * 4));
        Assert.That(ipu.Gradients, Is.EqualTo(260 * 4));
        Assert.That(ipu.OptimizerState, Is.EqualTo(2 * 260 * 4));
        // Activations (B 1, S 2, d 4, h 1, i 2, f 4, fp32): norm = input 32 + 1/rms 8 + output 32 = 72;
        // attention = q,k,v 16 each + probs [1,1,2,2] 16 + context 16 = 80; gated FFN = wi_0, wi_1, gelu(wi_0) and
        // the product, 4 × 32 = 128. Encoder layer 72+80+72+128 = 352; decoder layer 72+80+72+80+72+128 = 504;
        // encoder output 32; encoder final
        // norm input 32 + 1/rms 8 = 40; input ids + decoder ids 8 + 8; LM head: norm 72 + logits shard [1,2,4] 32 +
        // labels 8 = 112.
        Assert.That(ipu.Activations, Is.EqualTo(352 + 504 + 32 + 40 + 16 + 112));
        Assert.That(ipu.InFlightMicroBatches, Is.EqualTo(1));
        // Working set: the larger of the largest matmul scratch, the FFN's [2,4]x[4,4] (partials 8 + operands 8 + 16
        // elements, fp32: 128), and the cross-entropy's exp, one-hot and picked product (3 × [1,2,4] fp32 = 96).
        Assert.That(ipu.WorkingSet, Is.EqualTo(128));
        Assert.That(ipu.Overhead, Is.EqualTo(2000));
        Assert.That(ipu.Total, Is.EqualTo(1040 + 1040 + 2080 + 1056 + 128 + 2000));
        Assert.That(ipu.StreamingUsed, Is.Zero);
        Assert.That(report.Fits, Is.True);
        Assert.That(report.OverflowMessage, Is.Null);
    }

    [Test]
    public void RecomputationKeepsOnlyLayerInputs()
    {
        var plan = PlacementPlan.Create(Tiny, tensorParallel: 2, recompute: true);
        var ipu = new MemoryPlanner(0.2).Plan(Tiny, plan, TinyShape, TinyTarget(10_000)).Ipus[0];
        // Encoder and decoder layer inputs [1,2,4] 32 each + encoder output, final norm, ids and LM head as before,
        // and the attention biases the recomputed blocks need again: encoder [1,1,2,2] 16, decoder [1,2,2] 16 and the
        // cross-attention mask [1,2] 8.
        Assert.That(ipu.Activations, Is.EqualTo(32 + 32 + 32 + 40 + 16 + 112 + 16 + 16 + 8));
        // The layer being recomputed (its backward buffers reuse the room it frees) and the largest matmul scratch.
        Assert.That(ipu.WorkingSet, Is.EqualTo(504 + 128));
    }

    [Test]
    public void OverflowNamesTheIpuAndTheExcess()
    {
        // 6,410 bytes: overhead 1,282, total 5,344 + 1,282 = 6,626, over by 216 on both IPUs.
        var plan = PlacementPlan.Create(Tiny, tensorParallel: 2);
        var report = new MemoryPlanner(0.2).Plan(Tiny, plan, TinyShape, TinyTarget(6_410));
        Assert.That(report.Fits, Is.False);
        Assert.That(report.WorstOverflow!.Ipu, Is.EqualTo(0));
        Assert.That(report.WorstOverflow.OnChipOverflow, Is.EqualTo(216));
        Assert.That(report.OverflowMessage, Does.StartWith("IPU 0 (replica 0, stage 0, tp rank 0) needs 6.6 kB on-chip but has 6.4 kB (over by 216 B: weights 1.0 kB, gradients 1.0 kB, optimizer 2.1 kB, activations 1.1 kB, working 128 B, overhead 1.3 kB)"));
        Assert.That(report.OverflowMessage, Does.Contain("2 of 2 IPUs overflow"));
    }

    [Test]
    public void PipelineInFlightMicroBatchesDependOnTheSchedule()
    {
        var model = T5ModelConfig.FlanT5("base");
        var shape = new TrainingShape { GlobalBatch = 16, SourceLength = 128, TargetLength = 128 };
        var target = IpuTarget.Mk2(4);
        var gpipe = new MemoryPlanner().Plan(model, PlacementPlan.Create(model, pipelineStages: 4), shape, target);
        var oneFOneB = new MemoryPlanner().Plan(model,
            PlacementPlan.Create(model, pipelineStages: 4, schedule: PipelineSchedule.OneFOneB), shape, target);
        Assert.That(gpipe.Ipus.Select(i => i.InFlightMicroBatches), Is.EqualTo(new[] { 16, 16, 16, 16 }));
        Assert.That(oneFOneB.Ipus.Select(i => i.InFlightMicroBatches), Is.EqualTo(new[] { 4, 3, 2, 1 }));
        // a slot per micro-batch in flight, and the pass's own tensors: 4 + 1 against 16 + 1
        Assert.That(oneFOneB.Ipus[0].Activations * 17, Is.EqualTo(gpipe.Ipus[0].Activations * 5));
    }

    [Test]
    public void XxlOnPod16OnChipIsRefusedNamingTheIpu()
    {
        var model = T5ModelConfig.FlanT5("xxl");
        var plan = PlacementPlan.Create(model, tensorParallel: 16, recompute: true);
        var report = new MemoryPlanner().Plan(model, plan, new TrainingShape(), IpuTarget.Pod16);
        Assert.That(report.Fits, Is.False);
        // fp16 weights alone: 11.1 B parameters × 2 bytes / 16 IPUs ≈ 1.39 GB per IPU > 940.6 MB.
        Assert.That(report.Ipus.Sum(i => i.Weights), Is.GreaterThan(22_000_000_000L));
        Assert.That(report.Ipus[0].Weights, Is.GreaterThan(report.Ipus[0].Capacity));
        Assert.That(report.OverflowMessage, Does.StartWith("IPU 0 (replica 0, stage 0, tp rank 0) needs"));
        Assert.That(report.OverflowMessage, Does.Contain("16 of 16 IPUs overflow"));
        Assert.That(report.OverflowMessage, Does.Contain("Adam m+v").Or.Contain("shard ["));
    }

    [Test]
    public void XxlOnPod16PhasedWithStreamingFits()
    {
        var preset = ReferencePresets.Find("xxl-pod16");
        var report = new MemoryPlanner().Plan(preset.Model, preset.Plan, preset.Shape, preset.Target);
        Assert.That(report.Fits, Is.True, report.OverflowMessage);
        var ipu = report.Ipus[0];
        Assert.That(ipu.Total, Is.LessThan(ipu.Capacity));
        // Weights (fp16), gradients (fp32) and Adam m, v (fp32) of 1/16 of the model, plus stored layer inputs.
        Assert.That(ipu.StreamingUsed, Is.GreaterThan(11_135_332_352L / 16 * (2 + 4 + 8)));
        Assert.That(ipu.StreamingUsed, Is.LessThan(ipu.StreamingCapacity));
    }

    [Test]
    public void StreamingStateIsShardedAcrossReplicas()
    {
        var pod16 = ReferencePresets.Find("xxl-pod16");
        var pod64 = ReferencePresets.Find("xxl-pod64");
        var planner = new MemoryPlanner();
        var one = planner.Plan(pod16.Model, pod16.Plan, pod16.Shape, pod16.Target).Ipus[0];
        var four = planner.Plan(pod64.Model, pod64.Plan, pod64.Shape, pod64.Target).Ipus[0];
        Assert.That(four.StreamingUsed, Is.LessThan(one.StreamingUsed / 3));
        Assert.That(four.Total, Is.EqualTo(one.Total));
    }

    [Test]
    public void TargetMustHaveEnoughIpus()
    {
        var model = T5ModelConfig.FlanT5("xl");
        var e = Assert.Throws<InvalidPlanException>(() =>
            new MemoryPlanner().Plan(model, PlacementPlan.Create(model, tensorParallel: 8), new TrainingShape(), IpuTarget.Mk2(4)))!;
        Assert.That(e.Message, Does.Contain("8 IPUs").And.Contain("has 4"));
    }
}
