using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Placement;
using FlanT5.Poplar.Training;
using PipelineSchedule = FlanT5.Poplar.Placement.PipelineSchedule;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>
/// The C# cost model against the emulated engine's cycle estimate: the device traffic report's estimated_cycles over
/// one training step on the Poplar builder (forward and backward of every micro-batch, then AdamW). The engine's
/// model is idealised (matmuls at the AMP peak of the tiles they touch), the C# model is calibrated on published
/// Pod runs (4.72 % of peak), so the test calibrates the C# model's one efficiency factor on one step
/// (<see cref="CostModel.Calibrate"/>, as for hardware) and asks it to predict the other shapes: batch, both lengths
/// and the micro-batch count change the FLOPs by up to 2.3x. Measured (d_model 256, 1 + 1 layers, one thread):
/// fitted efficiency 0.54, predictions within -9 % .. +7 % of the engine (-6.0 % .. +1.9 % since the engine's syncs
/// follow poplibs' 15 ns-a-hop model). Across IPUs, calibrated on one IPU of a 2 + 2-layer model and asked for the
/// planner's plan matrix (tensor, pipeline and data parallel, GPipe and 1F1B, recomputation; batch 8 per replica,
/// 128 -> 32): -21.9 % (tp 4) .. +3.2 %. Bound: ±25 %.
/// Not covered: steps so small that the engine's per-step exchange and syncs dominate, which the C# model (one sync
/// per collective and layer pass, element-wise work inside its efficiency factor) does not see.
/// </summary>
public sealed class CostModelAgainstEngineTests
{
    private static readonly T5ModelConfig Model = new()
    {
        VocabSize = 512, DModel = 256, DKv = 64, DFf = 1024, NumHeads = 4, NumLayers = 1, NumDecoderLayers = 1,
    };

    private static readonly IpuTarget Target = IpuTarget.Mk2(1);

    private static TrainingShape Shape(int batch, int src, int tgt, int microBatches) => new()
    {
        MicroBatch = batch, SourceLength = src, TargetLength = tgt, GlobalBatch = batch * microBatches,
        Precision = NumericPrecision.Fp32,
    };

    /// <summary>The engine's estimated seconds of one training step of this shape on one IPU.</summary>
    private static double EngineSeconds(TrainingShape shape) =>
        EngineSecondsOf(Model, shape, 1, 1, 1, PipelineSchedule.GPipe, recompute: false);

    [Test]
    public void CalibratedOnOneStepTheCostModelPredictsTheEnginesCyclesWithinAQuarter()
    {
        var plan = PlacementPlan.Create(Model, 1, 1, 1);
        var reference = Shape(8, 128, 32, 2);
        double efficiency = CostModel.Calibrate([(Model, plan, reference, Target, EngineSeconds(reference))]);
        TestContext.Out.WriteLine($"efficiency fitted on the engine: {efficiency:F3}");
        var costModel = new CostModel(efficiency);
        foreach (var shape in new[] { Shape(8, 128, 32, 1), Shape(16, 128, 32, 1), Shape(8, 256, 64, 1) })
        {
            double engine = EngineSeconds(shape);
            double predicted = costModel.Estimate(Model, plan, shape, Target).TotalSeconds;
            TestContext.Out.WriteLine($"batch {shape.MicroBatch}, {shape.SourceLength} -> {shape.TargetLength}: engine " +
                                      $"{engine * Target.ClockHz:N0} cycles, cost model {predicted * Target.ClockHz:N0} ({predicted / engine - 1:P1})");
            Assert.That(predicted / engine, Is.InRange(0.75, 1.25),
                $"batch {shape.MicroBatch}, {shape.SourceLength} -> {shape.TargetLength}");
        }
    }

    private static readonly T5ModelConfig FourLayers = Model with { NumLayers = 2, NumDecoderLayers = 2 };

    private CostModel? _acrossIpus;

    // Calibrated once on one IPU of the 2 + 2-layer model for the plan matrix.
    [OneTimeSetUp]
    public void CalibrateOnOneIpu()
    {
        var reference = Shape(8, 128, 32, 2);
        double engine = EngineSecondsOf(FourLayers, reference, 1, 1, 1, PipelineSchedule.GPipe, recompute: false);
        _acrossIpus = new CostModel(CostModel.Calibrate([(FourLayers, PlacementPlan.Create(FourLayers), reference, Target, engine)]));
    }

    [TestCaseSource(typeof(PlanMatrix), nameof(PlanMatrix.Plans))]
    public void AcrossIpusTheCalibratedCostModelPredictsTheEnginesCyclesWithinAQuarter(int tp, int pp, int dp,
        PipelineSchedule schedule, int microBatches, bool recompute)
    {
        var shape = Shape(8, 128, 32, 1) with { GlobalBatch = 8 * dp * microBatches };
        var plan = PlacementPlan.Create(FourLayers, tp, pp, dp, schedule: schedule, recompute: recompute);
        double engine = EngineSecondsOf(FourLayers, shape, tp, pp, dp, schedule, recompute);
        double predicted = _acrossIpus!.Estimate(FourLayers, plan, shape, IpuTarget.Mk2(plan.IpuCount)).TotalSeconds;
        TestContext.Out.WriteLine($"tp {tp} pp {pp} dp {dp} {schedule} x{microBatches}{(recompute ? " recompute" : "")}: engine " +
                                  $"{engine * Target.ClockHz:N0} cycles, cost model {predicted * Target.ClockHz:N0} ({predicted / engine - 1:P1})");
        Assert.That(predicted / engine, Is.InRange(0.75, 1.25));
    }

    /// <summary>The engine's estimated seconds of one training step (micro-batches of shape.MicroBatch rows per
    /// replica) under a plan.</summary>
    private static double EngineSecondsOf(T5ModelConfig config, TrainingShape shape, int tp, int pp, int dp,
        PipelineSchedule schedule, bool recompute)
    {
        using var model = DeviceModel.Create(config, FlanT5.Poplar.Checkpoints.EmbeddingLayout.Shared, new DeviceModelOptions
        {
            Threads = 1, TensorParallel = tp, PipelineStages = pp, Replicas = dp,
            Schedule = (FlanT5.Poplar.Interop.PipelineSchedule)schedule, Recompute = recompute,
        });
        int rows = shape.MicroBatch * dp;
        var step = RandomTrainingStep.Of(rows, shape.SourceLength, shape.TargetLength, shape.GlobalBatch / rows, idLimit: 500);
        model.Device.ResetTraffic();
        model.Session.ForwardBackward(step, 1f);
        model.Session.OptimizerStep(new OptimizerStepSettings { Step = 1 });
        return model.Device.Traffic.EstimatedCycles / Target.ClockHz;
    }
}
