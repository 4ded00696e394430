using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class PlanSearchTests
{
    [Test]
    public void FindsAFittingPlanForXxlOn16Ipus()
    {
        var model = T5ModelConfig.FlanT5("xxl");
        var found = new PlanSearch(new MemoryPlanner(), new CostModel()).FittingPlans(model, new TrainingShape(), IpuTarget.Pod16);
        Assert.That(found, Is.Not.Empty);
        Assert.That(found.All(c => c.Memory.Fits && c.Plan.IpuCount == 16), Is.True);
        Assert.That(found.Select(c => c.Time.TotalSeconds), Is.Ordered);
        // Nothing fits with the weights on chip: fp16 weights alone exceed 16 × 940 MB.
        Assert.That(found.All(c => c.Plan.WeightsLocation == TensorLocation.Streaming), Is.True);
        // The reference plan is among the fitting ones and the best is at least as fast.
        var reference = found.SingleOrDefault(c => c.Plan is { TensorParallel: 16, Replicas: 1, Recompute: true, OptimizerLocation: TensorLocation.Streaming });
        Assert.That(reference, Is.Not.Null);
        Assert.That(found[0].Time.TotalSeconds, Is.LessThanOrEqualTo(reference!.Time.TotalSeconds));
    }

    [Test]
    public void CandidatesRespectDivisibility()
    {
        var model = T5ModelConfig.FlanT5("small");   // 6 heads, d_ff 1024
        var plans = PlanSearch.Candidates(model, new TrainingShape { GlobalBatch = 8 }, 12).ToArray();
        Assert.That(plans, Is.Not.Empty);
        Assert.That(plans.All(p => p.IpuCount == 12 && 6 % p.TensorParallel == 0 && 1024 % p.TensorParallel == 0), Is.True);
        Assert.That(plans.All(p => 8 % p.Replicas == 0), Is.True);
        Assert.That(plans.Select(p => p.TensorParallel).Distinct(), Is.EquivalentTo(new[] { 1, 2 }));
        Assert.That(plans.Any(p => p.PhasedExecution && p.PipelineStages > 1), Is.False);
    }

    [Test]
    public void SmallModelKeepsEverythingOnChipWhenItFits()
    {
        // flan-t5-small: 77 M parameters × (2 + 4 + 8) bytes ≈ 1.08 GB does not fit one IPU on chip, but fits two.
        var model = T5ModelConfig.FlanT5("small");
        var shape = new TrainingShape { GlobalBatch = 8, SourceLength = 128, TargetLength = 8 };
        var search = new PlanSearch(new MemoryPlanner(), new CostModel());
        Assert.That(search.FittingPlans(model, shape, IpuTarget.Mk2(1))
            .All(c => c.Plan.OptimizerLocation == TensorLocation.Streaming || c.Plan.WeightsLocation == TensorLocation.Streaming), Is.True);
        var found = search.FittingPlans(model, shape, IpuTarget.Mk2(2));
        Assert.That(found, Is.Not.Empty);
        // On chip needs no streaming traffic, so the fastest plan keeps everything on chip.
        Assert.That(found[0].Plan.WeightsLocation, Is.EqualTo(TensorLocation.OnChip));
        Assert.That(found[0].Plan.OptimizerLocation, Is.EqualTo(TensorLocation.OnChip));
    }
}
