using System.Text.Json;
using FlanT5.Poplar.Cli;
using FlanT5.Poplar.Cli.Hosting;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>The user-facing commands that run the model: finetune (the main job), evaluate, generate.</summary>
public sealed class RunCommandsTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApplication.RunAsync(args, Program.CreateCommands(), output, error, CancellationToken.None).GetAwaiter().GetResult();
        return (code, output.ToString(), error.ToString());
    }

    private static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    [Test]
    public void FinetuneWithTheDefaultPresetWritesEveryOutputItNames()
    {
        var (code, output, error) = Run("finetune", "--set", "training.steps=30", "--set", $"output.run_dir={_dir}");
        Assert.That(code, Is.Zero, output + error);
        var summaryPath = Path.Combine(_dir, "summary.json");
        using var summary = JsonDocument.Parse(File.ReadAllText(summaryPath));
        var root = summary.RootElement;
        Assert.That(root.GetProperty("steps_completed").GetInt32(), Is.EqualTo(30));
        var accuracy = root.GetProperty("accuracy");
        Assert.That(accuracy.GetProperty("validation_matched").GetProperty("total").GetInt32(), Is.GreaterThan(500));
        Assert.That(accuracy.GetProperty("validation_mismatched").GetProperty("total").GetInt32(), Is.GreaterThan(500));
        foreach (var file in root.GetProperty("outputs").EnumerateObject())
            Assert.That(Path.Exists(file.Value.GetString()), $"{file.Name}: {file.Value.GetString()}");
        Assert.That(File.ReadAllLines(Path.Combine(_dir, "metrics.csv")), Has.Length.EqualTo(31));
        Assert.That(File.Exists(Path.Combine(_dir, "loss.png")));
        Assert.That(File.Exists(Path.Combine(_dir, "hf-checkpoint", "model.safetensors")));
        Assert.That(output, Does.Contain("accuracy validation_mismatched").And.Contain(summaryPath));
    }

    [Test]
    public void EvaluateAndGenerateAnswerWithLabelWordsOnAFineTunedCheckpoint()
    {
        var model = Fixture("flan-t5-tiny-mnli");
        var (code, output, error) = Run("evaluate", "--model", model, "--split", "validation_matched",
            "--set", $"data.eval.validation_matched={Fixture("synthetic-mnli/glue/dev_matched.tsv")}");
        Assert.That(code, Is.Zero, output + error);
        // flan-t5-tiny-mnli's reference greedy accuracy on the matched split is 100 %.
        Assert.That(output, Does.Contain("validation_matched: accuracy 100.00 %"));

        (code, output, error) = Run("generate", "--model", model, "--num-beams", "3", "--prompt",
            "mnli hypothesis: The cat sleeps. premise: The cat is sleeping on the mat.");
        Assert.That(code, Is.Zero, output + error);
        Assert.That(output.Trim(), Is.AnyOf("entailment", "neutral", "contradiction"));

        // The same answer with the model split over four IPUs (tensor parallel 2 × 2 pipeline stages).
        var (placedCode, placedOutput, placedError) = Run("generate", "--model", model, "--num-beams", "3", "--tensor-parallel", "2",
            "--pipeline-stages", "2", "--prompt", "mnli hypothesis: The cat sleeps. premise: The cat is sleeping on the mat.");
        Assert.That(placedCode, Is.Zero, placedOutput + placedError);
        Assert.That(placedOutput.Trim(), Is.EqualTo(output.Trim()));

        // And in fp16, as the IPU serves it, on the same four IPUs.
        var (halfCode, halfOutput, halfError) = Run("generate", "--model", model, "--num-beams", "3", "--precision", "fp16",
            "--tensor-parallel", "2", "--pipeline-stages", "2", "--prompt",
            "mnli hypothesis: The cat sleeps. premise: The cat is sleeping on the mat.");
        Assert.That(halfCode, Is.Zero, halfOutput + halfError);
        Assert.That(halfOutput.Trim(), Is.EqualTo(output.Trim()));
    }

    [TestCase("finetune", "--set", "model.precision=fp32")]
    [TestCase("evaluate", "--precision", "fp32")]
    public void StochasticRoundingWithoutHalfPrecisionIsRefusedBeforeAnythingIsWritten(string command, string flag, string value)
    {
        var runDir = Path.Combine(_dir, "run");
        const string message = "training.stochastic_rounding is true with model.precision fp32: stochastic rounding rounds the weights into fp16";
        var (code, _, error) = Run(command, "--set", "training.stochastic_rounding=true", flag, value, "--set", $"output.run_dir={runDir}");
        Assert.That(code, Is.EqualTo(ExitCodes.UserError), error);
        Assert.That(error, Does.Contain(message).And.Not.Contain("   at "));
        Assert.That(Directory.Exists(runDir), Is.False, "nothing is written before the refusal");
    }

    [TestCase("poplar")]
    [TestCase("ipu-model")]
    public void ABackendOfTheSdkBuildIsAOneLineUserErrorThatSaysWhichBuildHasIt(string backend)
    {
        var (code, _, error) = Run("finetune", "--set", $"execution.backend={backend}", "--set",
            $"output.run_dir={Path.Combine(_dir, "run")}");
        Assert.That(code, Is.EqualTo(ExitCodes.UserError), error);
        Assert.That(error, Does.Contain($"backend {backend} is not in this build").And.Contain("FT5_NATIVE_PATH")
            .And.Not.Contain("   at "));
    }

    [Test]
    public void AMissingModelIsAOneLineUserError()
    {
        var (code, _, error) = Run("generate", "--model", Path.Combine(_dir, "nowhere"), "--prompt", "x");
        Assert.That(code, Is.EqualTo(ExitCodes.UserError));
        Assert.That(error, Does.Contain("nowhere").And.Not.Contain("   at "));
    }
}
