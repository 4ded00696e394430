using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

public class PlacementPlanTests
{
    private static readonly T5ModelConfig Xxl = T5ModelConfig.FlanT5("xxl");

    [Test]
    public void TensorParallelMustDivideHeads()
    {
        var e = Assert.Throws<InvalidPlanException>(() => PlacementPlan.Create(Xxl, tensorParallel: 5))!;
        Assert.That(e.Field, Is.EqualTo("tensor_parallel"));
        Assert.That(e.Message, Does.Contain("5").And.Contain("num_heads 64"));
    }

    [Test]
    public void TensorParallelMustDivideDff()
    {
        // 32 divides 64 heads but not d_ff 10200.
        var model = Xxl with { DFf = 10200 };
        var e = Assert.Throws<InvalidPlanException>(() => PlacementPlan.Create(model, tensorParallel: 32))!;
        Assert.That(e.Field, Is.EqualTo("tensor_parallel"));
        Assert.That(e.Message, Does.Contain("32").And.Contain("d_ff 10200"));
    }

    [Test]
    public void StagesCannotExceedLayers()
    {
        var tiny = T5ModelConfig.FlanT5("small") with { NumLayers = 2, NumDecoderLayers = 2 };
        var e = Assert.Throws<InvalidPlanException>(() => PlacementPlan.Create(tiny, pipelineStages: 5))!;
        Assert.That(e.Field, Is.EqualTo("pipeline_stages"));
        Assert.That(e.Message, Does.Contain("5 stages").And.Contain("4 layers"));
    }

    [TestCase(0, "tensor_parallel")]
    [TestCase(-2, "tensor_parallel")]
    public void NonPositiveDegreesAreNamed(int value, string field)
    {
        var e = Assert.Throws<InvalidPlanException>(() => PlacementPlan.Create(Xxl, tensorParallel: value))!;
        Assert.That(e.Field, Is.EqualTo(field));
        Assert.That(e.Message, Does.Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void ReplicasMustBePositive()
    {
        var e = Assert.Throws<InvalidPlanException>(() => PlacementPlan.Create(Xxl, replicas: 0))!;
        Assert.That(e.Field, Is.EqualTo("replicas"));
    }

    [Test]
    public void LayersPerStageMustAddUp()
    {
        var plan = PlacementPlan.Create(Xxl, pipelineStages: 2) with { EncoderLayersPerStage = [20, 3] };
        var e = Assert.Throws<InvalidPlanException>(() => plan.Validate(Xxl))!;
        Assert.That(e.Field, Is.EqualTo("encoder_layers_per_stage"));
        Assert.That(e.Message, Does.Contain("23").And.Contain("num_layers 24"));
    }

    [Test]
    public void LayersPerStageNeedsOneEntryPerStage()
    {
        var plan = PlacementPlan.Create(Xxl, pipelineStages: 2) with { DecoderLayersPerStage = [24] };
        var e = Assert.Throws<InvalidPlanException>(() => plan.Validate(Xxl))!;
        Assert.That(e.Field, Is.EqualTo("decoder_layers_per_stage"));
        Assert.That(e.Message, Does.Contain("1 entries").And.Contain("(2)"));
    }

    [Test]
    public void EncoderStagesComeFirst()
    {
        var plan = PlacementPlan.Create(Xxl, pipelineStages: 2) with
        {
            EncoderLayersPerStage = [0, 24],
            DecoderLayersPerStage = [24, 0],
        };
        var e = Assert.Throws<InvalidPlanException>(() => plan.Validate(Xxl))!;
        Assert.That(e.Message, Does.Contain("stage 1").And.Contain("encoder stages must come first"));
    }

    [Test]
    public void EmptyStageIsRefused()
    {
        var plan = PlacementPlan.Create(Xxl, pipelineStages: 3) with
        {
            EncoderLayersPerStage = [24, 0, 0],
            DecoderLayersPerStage = [0, 24, 0],
        };
        var e = Assert.Throws<InvalidPlanException>(() => plan.Validate(Xxl))!;
        Assert.That(e.Message, Does.Contain("stage 2 holds no layer"));
    }

    [Test]
    public void PhasedExecutionIsNotPipelined()
    {
        var e = Assert.Throws<InvalidPlanException>(() =>
            PlacementPlan.Create(Xxl, tensorParallel: 4, pipelineStages: 4, weights: TensorLocation.Streaming))!;
        Assert.That(e.Field, Is.EqualTo("weights_location"));
        Assert.That(e.Message, Does.Contain("pipeline_stages 4"));
    }

    [Test]
    public void EvenSplitPutsEncoderFirstAndBalancesStages()
    {
        var (enc, dec) = PlacementPlan.EvenSplit(24, 24, 3);
        Assert.That(enc, Is.EqualTo(new[] { 16, 8, 0 }));
        Assert.That(dec, Is.EqualTo(new[] { 0, 8, 16 }));
        (enc, dec) = PlacementPlan.EvenSplit(24, 24, 5);
        Assert.That(enc.Zip(dec, (e, d) => e + d), Is.EqualTo(new[] { 10, 10, 10, 9, 9 }));
        Assert.That(enc.Sum(), Is.EqualTo(24));
        Assert.That(dec.Sum(), Is.EqualTo(24));
    }

    [Test]
    public void IpuIndexFollowsPoplarReplicasOfConsecutiveStages()
    {
        // Poplar replica (data-parallel index × 4 + tp_rank) holds IPUs [2 × replica, 2 × replica + 2), one per stage
        var plan = PlacementPlan.Create(Xxl, tensorParallel: 4, pipelineStages: 2, replicas: 3);
        Assert.That(plan.IpuCount, Is.EqualTo(24));
        Assert.That(plan.IpuIndex(0, 0, 0), Is.EqualTo(0));
        Assert.That(plan.IpuIndex(0, 1, 0), Is.EqualTo(1));
        Assert.That(plan.IpuIndex(0, 0, 3), Is.EqualTo(6));
        Assert.That(plan.IpuIndex(1, 0, 0), Is.EqualTo(8));
        Assert.That(plan.IpuIndex(2, 1, 3), Is.EqualTo((2 * 4 + 3) * 2 + 1));
        var seen = new HashSet<int>();
        for (var r = 0; r < 3; r++)
        for (var s = 0; s < 2; s++)
        for (var k = 0; k < 4; k++)
        {
            var ipu = plan.IpuIndex(r, s, k);
            Assert.That(ipu, Is.EqualTo((r * 4 + k) * 2 + s));
            Assert.That(plan.Locate(ipu), Is.EqualTo((r, s, k)));
            seen.Add(ipu);
        }
        Assert.That(seen, Has.Count.EqualTo(24));
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.IpuIndex(0, 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.Locate(24));
    }

    [Test]
    public void GlobalBatchMustSplitOverReplicasAndMicroBatches()
    {
        var plan = PlacementPlan.Create(Xxl, tensorParallel: 16, replicas: 3);
        var e = Assert.Throws<InvalidPlanException>(() => new TrainingShape { GlobalBatch = 128 }.Validate(plan))!;
        Assert.That(e.Field, Is.EqualTo("global_batch"));
        Assert.That(e.Message, Does.Contain("128").And.Contain("replicas 3"));
        Assert.That(new TrainingShape { GlobalBatch = 96, MicroBatch = 2 }.GradientAccumulation(plan), Is.EqualTo(16));
    }
}
