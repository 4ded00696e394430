using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class CostModelTests
{
    private static StepTimeEstimate Predict(string preset)
    {
        var p = ReferencePresets.Find(preset);
        return new CostModel().Estimate(p.Model, p.Plan, p.Shape, p.Target);
    }

    [TestCase("xxl-pod16", 36.0)]
    [TestCase("xl-pod8", 16.0)]
    public void CalibratedModelPredictsPublishedStepTimesWithin35Percent(string preset, double published)
    {
        Assert.That(ReferencePresets.Find(preset).PublishedStepSeconds, Is.EqualTo(published));
        var predicted = Predict(preset).TotalSeconds;
        Assert.That(predicted / published, Is.InRange(0.65, 1.35), $"{preset}: predicted {predicted:0.0} s, published {published} s");
    }

    [Test]
    public void DefaultEfficiencyIsTheFittedOne()
    {
        var fitted = ReferencePresets.CalibrateComputeEfficiency();
        Assert.That(fitted, Is.EqualTo(CostModel.DefaultComputeEfficiency).Within(1).Percent);
    }

    [Test]
    public void MoreReplicasMakeAFasterStep()
    {
        Assert.That(Predict("xxl-pod64").TotalSeconds, Is.LessThan(Predict("xxl-pod16").TotalSeconds / 2));
        Assert.That(Predict("xl-pod16").TotalSeconds, Is.LessThan(Predict("xl-pod8").TotalSeconds));
        Assert.That(Predict("xxl-pod64").DataParallelSeconds, Is.GreaterThan(0));
        Assert.That(Predict("xxl-pod16").DataParallelSeconds, Is.Zero);
    }

    [Test]
    public void ComputeIsFlopsOverPeakTimesEfficiency()
    {
        var p = ReferencePresets.Find("xxl-pod16");
        var half = new CostModel(CostModel.DefaultComputeEfficiency / 2).Estimate(p.Model, p.Plan, p.Shape, p.Target);
        var full = Predict("xxl-pod16");
        Assert.That(half.ComputeSeconds, Is.EqualTo(2 * full.ComputeSeconds).Within(1e-9).Percent);
        Assert.That(full.ComputeSeconds, Is.EqualTo(full.FlopsPerIpu / (250e12 * CostModel.DefaultComputeEfficiency)).Within(1e-9).Percent);
        // Forward matmul FLOPs of XXL per sample ≈ 2 × 11 B matmul parameters × 512 tokens + attention ≈ 11.6 TFLOP;
        // with backward (2×) and recomputation (1×) ≈ 4× per sample, 128 samples, over 16 IPUs.
        Assert.That(full.FlopsPerIpu * 16 / 128 / 4, Is.EqualTo(11.6e12).Within(3).Percent);
        Assert.That(full.TotalSeconds, Is.EqualTo(full.Components.Sum(c => c.Seconds)).Within(1e-9).Percent);
    }

    [Test]
    public void PipelineBubbleIsEveryOtherStageOnceAtMostStagesMinusOneOverMicroBatchesPlusStagesMinusOne()
    {
        // The fill and the drain pass through every stage but the slowest once: (p - 1)/(m + p - 1) of the step when
        // the stages are equal, less here, where the last stage also holds the LM head.
        var model = T5ModelConfig.FlanT5("base");
        var plan = PlacementPlan.Create(model, pipelineStages: 4, schedule: PipelineSchedule.OneFOneB);
        var shape = new TrainingShape { GlobalBatch = 16, SourceLength = 128, TargetLength = 128 };
        var time = new CostModel().Estimate(model, plan, shape, IpuTarget.Mk2(4));
        var pipelined = time.ComputeSeconds + time.TensorParallelSeconds + time.PipelineTransferSeconds + time.PipelineBubbleSeconds;
        Assert.That(time.PipelineBubbleSeconds / pipelined, Is.InRange(0.5 * 3.0 / (16 + 3), 3.0 / (16 + 3)));
        Assert.That(time.PipelineTransferSeconds, Is.GreaterThan(0));
    }

    [Test]
    public void WithOneMicroBatchAPipelinedStepIsTheSumOfItsStages()
    {
        // The same work as on one IPU, one stage after another, plus each boundary's activations and their gradients
        // ([B,S_src,d] + [B,S_tgt,d] each way, fp32), counted on both stages of the boundary.
        var model = T5ModelConfig.FlanT5("base");
        var shape = new TrainingShape
        {
            MicroBatch = 4, GlobalBatch = 4, SourceLength = 128, TargetLength = 32, Precision = NumericPrecision.Fp32,
        };
        var target = IpuTarget.Mk2(4);
        var flat = new CostModel().Estimate(model, PlacementPlan.Create(model), shape, IpuTarget.Mk2(1));
        var piped = new CostModel().Estimate(model, PlacementPlan.Create(model, pipelineStages: 4), shape, target);
        double boundary = 2.0 * 4 * (128 + 32) * model.DModel * 4 / target.IpuLinkBytesPerSecond;
        Assert.That(piped.ComputeSeconds + piped.PipelineTransferSeconds + piped.PipelineBubbleSeconds,
            Is.EqualTo(flat.ComputeSeconds + 3 * 2 * boundary).Within(1e-9).Percent);
    }

    [Test]
    public void TensorParallelTimeIsRingAllReduceOverIpuLinks()
    {
        // No recomputation, no phases: per micro-batch 2+2 all-reduces per encoder layer, 3+3+1 per decoder
        // layer, 2 for the embeddings, 1 + 3 small ones for the LM head; ring time 2(t-1)/t × bytes / 320 GB/s.
        var model = T5ModelConfig.FlanT5("small");
        var shape = new TrainingShape { GlobalBatch = 4, SourceLength = 64, TargetLength = 64 };
        var plan = PlacementPlan.Create(model, tensorParallel: 2);
        var time = new CostModel().Estimate(model, plan, shape, IpuTarget.Mk2(2));
        double act = 64 * 512 * 2, ring = 2.0 * 1 / 2 / 320e9;
        var perMicroBatch = (8 * 4 + 8 * 6 + 2 + 1) * act * ring + 8 * act * ring + 3 * (64 * 4) * ring;
        Assert.That(time.TensorParallelSeconds, Is.EqualTo(4 * perMicroBatch).Within(1e-9).Percent);
        var single = new CostModel().Estimate(model, PlacementPlan.Create(model), shape, IpuTarget.Mk2(1));
        Assert.That(single.TensorParallelSeconds, Is.Zero);
    }

    [Test]
    public void PhasedExecutionPaysForStreamingTraffic()
    {
        var p = ReferencePresets.Find("xxl-pod16");
        var time = Predict("xxl-pod16");
        // Weights 4 × fp16 + gradients 2 × fp32 + Adam m, v 4 × fp32 per parameter shard, at least.
        var stateBytes = (4 * 2 + 2 * 4 + 4 * 4) * (11_135_332_352.0 / 16);
        Assert.That(time.StreamingBytesPerIpu, Is.GreaterThan(stateBytes * 0.99));
        Assert.That(time.StreamingSeconds, Is.EqualTo(time.StreamingBytesPerIpu / p.Target.StreamingBytesPerSecond).Within(1e-9).Percent);
        var onChip = PlacementPlan.Create(p.Model, tensorParallel: 16, recompute: true);
        Assert.That(new CostModel().Estimate(p.Model, onChip, p.Shape, p.Target).StreamingSeconds, Is.Zero);
    }

    [Test]
    public void BowIsFasterThanMk2()
    {
        var p = ReferencePresets.Find("xl-pod8");
        var mk2 = new CostModel().Estimate(p.Model, p.Plan, p.Shape, IpuTarget.Mk2(8));
        var bow = new CostModel().Estimate(p.Model, p.Plan, p.Shape, IpuTarget.Bow(8));
        Assert.That(bow.ComputeSeconds, Is.EqualTo(mk2.ComputeSeconds * 250 / 350).Within(1e-9).Percent);
        Assert.That(bow.TotalSeconds, Is.LessThan(mk2.TotalSeconds));
    }
}
