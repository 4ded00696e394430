using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Tests.Configuration;

public class RunConfigPresetTests
{
    // name, architecture, tp, dp, gradient accumulation, IPUs, weight decay (the reference presets)
    [TestCase("xl-pod8", "flan-t5-xl", 8, 1, 128, 8, 0.01)]
    [TestCase("xl-pod16", "flan-t5-xl", 8, 2, 64, 16, 0.01)]
    [TestCase("xxl-pod16", "flan-t5-xxl", 16, 1, 128, 16, 0.0)]
    [TestCase("xxl-pod64", "flan-t5-xxl", 16, 4, 32, 64, 0.0)]
    public void ReferencePresetHasTheReferenceValues(string name, string architecture, int tp, int dp, int ga, int ipus, double weightDecay)
    {
        var config = RunConfigLoader.Load(null, name, [], RepositoryRoot.Path).Config;

        Assert.Multiple(() =>
        {
            Assert.That(config.Model.Architecture, Is.EqualTo(architecture));
            Assert.That(config.Model.Checkpoint, Does.EndWith($"flan-t5-{architecture["flan-t5-".Length..]}"));
            Assert.That(config.Model.SourceLength, Is.EqualTo(512));
            Assert.That(config.Model.TargetLength, Is.EqualTo(512));
            Assert.That(config.Model.Precision, Is.EqualTo(Precision.Fp16));
            Assert.That(config.Training.Steps, Is.EqualTo(500));
            Assert.That(config.Training.GlobalBatchSize, Is.EqualTo(128));
            Assert.That(config.Training.LearningRate.Maximum, Is.EqualTo(5e-6));
            Assert.That(config.Training.LearningRate.WarmupSteps, Is.EqualTo(10));
            Assert.That(config.Training.LearningRate.WarmupStart, Is.EqualTo(1e-7));
            Assert.That(config.Training.LearningRate.Schedule, Is.EqualTo(LearningRateScheduleKind.ConstantAfterWarmup));
            Assert.That(config.Training.Optimizer.Eps, Is.EqualTo(1e-6));
            Assert.That(config.Training.Optimizer.WeightDecay, Is.EqualTo(weightDecay));
            Assert.That(config.Training.GradientClipping, Is.EqualTo(1.0));
            Assert.That(config.Execution.MicroBatchSize, Is.EqualTo(1));
            Assert.That(config.Execution.TensorParallel, Is.EqualTo(tp));
            Assert.That(config.Execution.DataParallel, Is.EqualTo(dp));
            Assert.That(config.Execution.PipelineStages, Is.EqualTo(1));
            Assert.That(config.Execution.LossScaling.Mode, Is.EqualTo(LossScalingMode.Static));
            Assert.That(config.Execution.LossScaling.Initial, Is.EqualTo(1.0));
            Assert.That(config.GradientAccumulation, Is.EqualTo(ga));
            Assert.That(config.Ipus, Is.EqualTo(ipus));
            Assert.That(config.Ipus, Is.EqualTo(dp * tp * config.Execution.PipelineStages));
            Assert.That(config.GradientAccumulation * dp * config.Execution.MicroBatchSize, Is.EqualTo(128));
        });
    }

    [Test]
    public void ReferenceSpellingWithUnderscoreFindsThePreset()
    {
        var config = RunConfigLoader.Load(null, "xxl_pod64", [], RepositoryRoot.Path).Config;
        Assert.That(config.Ipus, Is.EqualTo(64));
    }

    [Test]
    public void EveryPresetFileLoadsAndValidates()
    {
        var presets = Directory.GetFiles(RepositoryRoot.Combine("configs"), "*.yaml");
        Assert.That(presets, Has.Length.GreaterThanOrEqualTo(5));
        foreach (var preset in presets)
        {
            var config = RunConfigLoader.LoadFile(preset);
            Assert.That(RunConfigValidator.Validate(config), Is.Empty, preset);
            Assert.That(config.GradientAccumulation * config.Execution.DataParallel * config.Execution.MicroBatchSize,
                Is.EqualTo(config.Training.GlobalBatchSize), preset);
        }
    }

    [Test]
    public void TinyEmulatorPresetIsTheBuiltInDefault()
    {
        // Paths: the file's are relative to configs/, the defaults' to the working directory (the repo root here).
        var fromFile = RunConfigLoader.Load(null, "tiny-emulator", [], RepositoryRoot.Path).Config;
        var defaults = RunConfigLoader.Load(null, null, [], RepositoryRoot.Path).Config;

        Assert.That(RunConfigWriter.ToJson(fromFile, includeDerived: true),
            Is.EqualTo(RunConfigWriter.ToJson(defaults, includeDerived: true)));
    }

    [Test]
    public void TinyEmulatorPresetPointsAtTheBundledModelAndData()
    {
        var config = RunConfigLoader.Load(null, "tiny-emulator", [], RepositoryRoot.Path).Config;

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(config.Model.Checkpoint!, "config.json")), config.Model.Checkpoint);
            Assert.That(File.Exists(config.Data.Train), config.Data.Train);
            Assert.That(File.Exists(config.Data.Eval.ValidationMatched), config.Data.Eval.ValidationMatched);
            Assert.That(File.Exists(config.Data.Eval.ValidationMismatched), config.Data.Eval.ValidationMismatched);
            Assert.That(config.Execution.Backend, Is.EqualTo(FlanT5.Poplar.Interop.IpuBackend.Emulator));
            Assert.That(config.Model.Precision, Is.EqualTo(Precision.Fp32));
            Assert.That(config.Training.Steps, Is.EqualTo(400));
            Assert.That(config.Training.GlobalBatchSize, Is.EqualTo(32));
            Assert.That(config.Training.LearningRate.Maximum, Is.EqualTo(1e-3));
            Assert.That(config.GradientAccumulation, Is.EqualTo(1));
            Assert.That(config.Ipus, Is.EqualTo(1));
            Assert.That(config.CheckpointDirectory, Is.EqualTo(RepositoryRoot.Combine("runs", "tiny-emulator", "{timestamp}", "checkpoints")), "each run its own folder; the run fills in {timestamp}");
        });
    }

    [Test]
    public void UnknownPresetListsTheAvailableOnes()
    {
        var e = Assert.Throws<FileNotFoundException>(() => RunConfigLoader.Load(null, "xxl-pod4", [], RepositoryRoot.Path));
        Assert.That(e!.Message, Does.Contain("unknown preset 'xxl-pod4'").And.Contain("xxl-pod16").And.Contain("tiny-emulator"));
    }
}
