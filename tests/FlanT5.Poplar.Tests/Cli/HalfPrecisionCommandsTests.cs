using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Tests.Configuration;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>fp16 on the commands: --precision, --detect-overflow (exit code 3 naming the op), the fp16 mitigations and
/// the fp16-safe preset, on flan-t5-tiny-overflow (its encoder block 1 feed-forward output reaches 166,416).</summary>
public sealed class HalfPrecisionCommandsTests
{
    private const string Prompt = "mnli hypothesis: The cat sleeps. premise: The cat is sleeping on the mat.";
    private const string OverflowingWo = "[encoder.block.1.layer.1.DenseReluDense.wo]";
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-fp16-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    [Test]
    public void GenerateDetectsTheOverflowWithExitCode3AndTheSafeMitigationsServeTheCheckpoint()
    {
        var model = Fixture("flan-t5-tiny-overflow");
        var (code, output, error) = CliRunner.Run("generate", "--model", model, "--precision", "fp16", "--detect-overflow", "--prompt", Prompt);
        Assert.That(code, Is.EqualTo(ExitCodes.Overflow), output + error);
        Assert.That(error, Does.StartWith("overflow detected: ").And.Contain(OverflowingWo).And.Contain("input 0 half")
            .And.Contain("output half").And.Not.Contain("   at "));

        (code, output, error) = CliRunner.Run("generate", "--model", model, "--precision", "fp16", "--fp16-mitigations", "safe",
            "--detect-overflow", "--prompt", Prompt);
        Assert.That(code, Is.Zero, output + error);
        var (fullCode, full, fullError) = CliRunner.Run("generate", "--model", model, "--prompt", Prompt);
        Assert.That(fullCode, Is.Zero, fullError);
        Assert.That(output, Is.EqualTo(full), "fp16 with the safe mitigations answers as fp32 does");
    }

    [Test]
    public void MitigationsWithoutHalfPrecisionOrWithAnUnknownNameAreOneLineErrors()
    {
        var model = Fixture("flan-t5-tiny");
        var (code, _, error) = CliRunner.Run("generate", "--model", model, "--fp16-mitigations", "safe", "--prompt", Prompt);
        Assert.That(code, Is.EqualTo(ExitCodes.UserError));
        Assert.That(error, Does.Contain("--fp16-mitigations changes fp16 arithmetic; give --precision fp16"));
        (code, _, error) = CliRunner.Run("generate", "--model", model, "--precision", "fp16", "--fp16-mitigations", "wo_fp32,wobble",
            "--prompt", Prompt);
        Assert.That(code, Is.EqualTo(ExitCodes.UserError));
        Assert.That(error, Does.Contain("'wobble' is not an fp16 mitigation"));
    }

    [Test]
    public void FinetuneWithDetectOverflowStopsAtTheFirstStepNamingItsMicroBatchAndTheOp()
    {
        var (code, output, error) = CliRunner.Run("finetune", "--precision", "fp16", "--detect-overflow",
            "--set", $"model.checkpoint={Fixture("flan-t5-tiny-overflow")}", "--set", "training.steps=3",
            "--set", $"output.run_dir={Path.Combine(_dir, "run")}");
        Assert.That(code, Is.EqualTo(ExitCodes.Overflow), output + error);
        Assert.That(error, Does.StartWith("overflow detected: step 1 of 3: micro-batch 1 of 1: floating-point exception")
            .And.Contain(OverflowingWo));
    }

    [TestCase("--set", "model.precision=fp32", "training.master_weights is true with model.precision fp32")]
    [TestCase("--set", "training.stochastic_rounding=true", "training.master_weights and training.stochastic_rounding are both true")]
    public void MasterWeightsWithoutHalfPrecisionOrWithStochasticRoundingAreRefused(string flag, string value, string message)
    {
        var runDir = Path.Combine(_dir, "run");
        var (code, _, error) = CliRunner.Run("finetune", "--set", "model.precision=fp16", "--set", "training.master_weights=true", flag, value,
            "--set", $"output.run_dir={runDir}");
        Assert.That(code, Is.EqualTo(ExitCodes.UserError), error);
        Assert.That(error, Does.Contain(message).And.Not.Contain("   at "));
        Assert.That(Directory.Exists(runDir), Is.False, "nothing is written before the refusal");
    }

    [Test]
    public void ParityInHalfPrecisionStatesItsBoundsAndFindsTheOverflowingCheckpointOutOfThem()
    {
        var model = Fixture("flan-t5-tiny");
        var (code, output, error) = CliRunner.Run("parity", "--model", model, "--reference",
            Path.Combine(model, "reference_forward_backward.safetensors"), "--precision", "fp16", "--threads", "2");
        Assert.That(code, Is.Zero, output + error);
        Assert.That(output, Does.Contain("fp16: bounds in fp16's unit roundoff u = 2^-11: logits 32 u, loss 8 u, gradients 128 u"));

        var overflow = Fixture("flan-t5-tiny-overflow");
        (code, output, error) = CliRunner.Run("parity", "--model", overflow, "--reference",
            Path.Combine(overflow, "reference_forward.safetensors"), "--precision", "fp16", "--threads", "2");
        Assert.That(code, Is.Not.Zero, "a saturated feed-forward output is outside the fp16 bounds");
        Assert.That(output, Does.Match(@"logits \(float64 reference\) .* FAIL"));

        (code, _, error) = CliRunner.Run("parity", "--model", overflow, "--reference",
            Path.Combine(overflow, "reference_forward.safetensors"), "--precision", "fp16", "--detect-overflow", "--threads", "2");
        Assert.That(code, Is.EqualTo(ExitCodes.Overflow));
        Assert.That(error, Does.Contain(OverflowingWo));
    }

    [Test]
    public void ActivationsTabulatesAndPlotsEveryModuleAndMarksTheOneThatPassesTheHalfRange()
    {
        var plot = Path.Combine(_dir, "activations.png");
        var (code, output, error) = CliRunner.Run("activations", "--model", Fixture("flan-t5-tiny-overflow"), "--prompt", Prompt,
            "--plot", plot, "--threads", "2");
        Assert.That(code, Is.Zero, output + error);
        var lines = output.Split('\n');
        var wo = lines.Single(l => l.StartsWith("encoder.block.1.layer.1.DenseReluDense.wo ", StringComparison.Ordinal));
        Assert.That(wo, Does.EndWith("overflows fp16"));
        Assert.That(lines.Count(l => l.EndsWith("overflows fp16", StringComparison.Ordinal)), Is.EqualTo(2),
            "the projection and the residual stream it feeds");
        Assert.That(lines.Count(l => l.StartsWith("decoder.block.", StringComparison.Ordinal)), Is.EqualTo(16));
        Assert.That(output, Does.Contain("largest: encoder.block.1.layer.1"));
        var png = File.ReadAllBytes(plot);
        Assert.That(png.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));

        // A model that fits: in fp16 no module reaches the limit.
        (code, output, error) = CliRunner.Run("activations", "--model", Fixture("flan-t5-tiny"), "--precision", "fp16", "--prompt", Prompt,
            "--threads", "2");
        Assert.That(code, Is.Zero, output + error);
        Assert.That(output, Does.Contain("0 of 32 modules reach it"));
    }

    [Test]
    public void ParityInHalfPrecisionOnEightIpusHoldsWithBeamRowsThatTookAnotherBranchAtATie()
    {
        // hf-t5-tiny's random weights give near-uniform logits: a beam search in fp16 meets ties that fp32 ranks a hair
        // apart, and may end on another sequence; the session must score that one no worse than the reference's
        var model = Fixture("hf-t5-tiny");
        var (code, output, error) = CliRunner.Run("parity", "--model", model, "--reference",
            Path.Combine(model, "reference_forward_backward.safetensors"), "--precision", "fp16", "--threads", "2",
            "--tensor-parallel", "2", "--pipeline-stages", "2", "--replicas", "2");
        Assert.That(code, Is.Zero, output + error);
        Assert.That(output, Does.Match(@"greedy_ids \(16 rows\) +0 +0 +rows differing +ok"));
        Assert.That(output, Does.Match(@"beam3_ids \(16 rows\) +0 +0 +(rows differing|not ties \(\d+ tie\)) +ok"));
    }

    [Test]
    public void TheFp16SafePresetHoldsTheMeasuredSetAndRunsInHalfPrecision()
    {
        var config = RunConfigLoader.Load(null, "fp16-safe", [], RepositoryRoot.Path).Config;
        Assert.That(config.Model.Precision, Is.EqualTo(Precision.Fp16));
        Assert.That(config.Training.StochasticRounding, Is.True);
        Assert.That(config.Model.Fp16, Is.EqualTo(HalfMitigationsSection.Safe));
        var (code, output, error) = CliRunner.Run("config", "validate", "--preset", "fp16-safe");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("fp16 (weights rounded stochastically, AdamW moments fp32; evaluation and generation with wo_fp32, residual_fp32, mask_scaled)"));
    }
}
