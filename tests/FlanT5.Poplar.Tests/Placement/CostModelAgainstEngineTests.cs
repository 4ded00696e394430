using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Placement;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>
/// The C# cost model against the emulated engine's cycle estimate: the device traffic report's estimated_cycles over
/// one training step on the Poplar builder (forward and backward of every micro-batch, then AdamW). The engine's
/// model is idealised (matmuls at the AMP peak of the tiles they touch), the C# model is calibrated on published
/// Pod runs (4.72 % of peak), so the test calibrates the C# model's one efficiency factor on one step
/// (<see cref="CostModel.Calibrate"/>, as for hardware) and asks it to predict the other shapes: batch, both lengths
/// and the micro-batch count change the FLOPs by up to 2.3x. Measured (d_model 256, 1 + 1 layers, one thread):
/// fitted efficiency 0.54, predictions within -9 % .. +7 % of the engine. Bound: ±25 %.
/// Not covered: steps so small that syncs dominate. At batch 4, 64 -> 16 tokens the engine charges 60 k of its
/// 191 k cycles to syncs (150 per compute set), which the C# model, one sync per layer pass, does not see
/// (it predicts about half the engine's figure there).
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
    private static double EngineSeconds(TrainingShape shape)
    {
        using var model = DeviceModel.Create(Model, FlanT5.Poplar.Checkpoints.EmbeddingLayout.Shared,
            new DeviceModelOptions { Threads = 1 });
        var step = RandomTrainingStep.Of(shape.MicroBatch, shape.SourceLength, shape.TargetLength,
            shape.GlobalBatch / shape.MicroBatch, idLimit: 500);
        model.Device.ResetTraffic();
        model.Session.ForwardBackward(step, 1f);
        model.Session.OptimizerStep(new OptimizerStepSettings { Step = 1 });
        return model.Device.Traffic.EstimatedCycles / Target.ClockHz;
    }

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
}
