using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// What the user got wrong is said as a user error (exit 2, one line naming the file, tensor or argument), never as an
/// internal error to report; and what a run silently changed (truncated prompts, values an export could not hold) is
/// said too.
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public sealed class UserErrorTests
{
    private string _dir = "";

    private static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    private static string Tiny => Fixture("flan-t5-tiny");

    private static string Train => Fixture("synthetic-mnli/glue/train.tsv");

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-user-errors", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private CliRunner.Result Finetune(string train, params string[] extra) =>
        CliRunner.Run(["finetune", "--no-eval", "--set", "training.steps=2", "--set", $"data.train={train}",
            "--set", $"output.run_dir={Path.Combine(_dir, "run-" + Guid.NewGuid().ToString("N"))}", .. extra]);

    private static void AssertUserError(CliRunner.Result result, params string[] expected)
    {
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.UserError), result.Output + result.Error);
        Assert.That(result.Error, Does.Not.Contain("internal error"));
        foreach (var text in expected) Assert.That(result.Error, Does.Contain(text));
    }

    /// <summary>The first <paramref name="rows"/> rows of the fixture train split, with each row changed by <paramref name="edit"/>.</summary>
    private string TrainFile(string name, int rows, Func<string[], string[]> edit)
    {
        var lines = File.ReadLines(Train).Take(rows + 1).ToList();
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines.Take(1).Concat(lines.Skip(1).Select(l => string.Join('\t', edit(l.Split('\t'))))));
        return path;
    }

    /// <summary>A copy of flan-t5-tiny with one value of one tensor replaced.</summary>
    private string ModelWith(string name, string tensor, float value)
    {
        var model = Path.Combine(_dir, name);
        Directory.CreateDirectory(model);
        foreach (var file in Directory.EnumerateFiles(Tiny).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.Contains("reference")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var tensors = Checkpoints.CheckpointTestFiles.ReadAll(Path.Combine(Tiny, "model.safetensors"));
        tensors[tensor].Data[3] = value;
        SafetensorsWriter.WriteFile(Path.Combine(model, "model.safetensors"), tensors.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Data)));
        return model;
    }

    [Test]
    public void TrainingDataWithoutOneUsableRowNamesTheFileAndTheCounts()
    {
        var unlabelled = TrainFile("unlabelled.tsv", 100, f => [.. f[..^1], "-"]);
        AssertUserError(Finetune(unlabelled), unlabelled, "no usable example", "100 row(s) without a gold label");

        var bad = TrainFile("bad.tsv", 50, f => [f[0], "too few columns"]);
        AssertUserError(Finetune(bad, "--set", "data.skip_bad_rows=true"), bad, "no usable example", "50 malformed row(s)");
    }

    [Test]
    public void ADamagedParquetPageNamesTheFile()
    {
        var damaged = Path.Combine(_dir, "train.parquet");
        var bytes = File.ReadAllBytes(Fixture("synthetic-mnli/hf/train-00000-of-00001.parquet"));
        for (int i = bytes.Length / 3; i < bytes.Length / 3 + 200; i++) bytes[i] ^= 0x5a;
        File.WriteAllBytes(damaged, bytes);
        AssertUserError(Finetune(damaged, "--set", "data.format=parquet"), damaged);
    }

    [Test]
    public void OutOfRangeNumbersAreRefusedAsArguments()
    {
        AssertUserError(CliRunner.Run("generate", "--model", Tiny, "--max-new-tokens", "2147483647", "--prompt", "hi"),
            "2147483647", "expected 1..65536");
        AssertUserError(CliRunner.Run("convert", "--model", Tiny, "--output", Path.Combine(_dir, "out"), "--host-only",
            "--max-shard-size", "99999999999999999999GB"), "99999999999999999999GB", "too large");
        Assert.That(Directory.Exists(Path.Combine(_dir, "out")), Is.False);
    }

    [Test]
    public void NonFiniteWeightsStopEveryCommandAtLoadNamingTheTensor()
    {
        var model = ModelWith("nan-model", "decoder.final_layer_norm.weight", float.NaN);
        const string where = "tensor 'decoder.final_layer_norm.weight' is not finite (NaN at element 3";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        AssertUserError(Finetune(Train, "--set", $"model.checkpoint={model}", "--set", "training.steps=50"), where, model);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "stopped before training, not after 50 skipped steps");
        AssertUserError(CliRunner.Run("generate", "--model", model, "--prompt", "hi"), where);
        AssertUserError(CliRunner.Run("evaluate", "--model", model, "--split", "validation_matched",
            "--set", $"data.eval.validation_matched={Fixture("synthetic-mnli/glue/dev_matched.tsv")}"), where);
    }

    [Test]
    public void WeightsThatTurnNonFiniteInTrainingStopItAtThatStepNamingTheTensor()
    {
        var config = RunConfig.Default with
        {
            Model = RunConfig.Default.Model with { Checkpoint = Tiny },
            Training = RunConfig.Default.Training with { Steps = 30 },
            Data = RunConfig.Default.Data with { Train = Train },
            Output = new OutputSection { RunDir = _dir },
        };
        using var inputs = RunInputs.Load(config with { Data = config.Data with { Eval = new EvalPathsSection { ValidationMatched = null, ValidationMismatched = null } } });
        using var trainer = new T5Trainer(config, inputs.Pretrained, inputs.Train, null, config.Inference, inputs.Tokenizer, LabelSet.Mnli);
        var session = trainer.Model.Session;
        int poisoned = session.Find("encoder.block.1.layer.1.DenseReluDense.wo.weight");
        var values = new float[session.Parameters[poisoned].ElementCount];
        session.Read(poisoned, ParameterSlot.Weight, values);
        values[10] = float.PositiveInfinity;
        session.Write(poisoned, ParameterSlot.Weight, values);

        var e = Assert.ThrowsAsync<InvalidDataException>(() => trainer.TrainAsync())!;
        Assert.That(e.Message, Does.StartWith("step 1: the loss is not finite because the weights are not")
            .And.Contain("'encoder.block.1.layer.1.DenseReluDense.wo.weight' is not finite (Infinity at element 10"));
    }

    [Test]
    public void ASplitWithoutLabelledRowsIsNotScoredAsZeroOfZero()
    {
        var unlabelled = TrainFile("dev.tsv", 20, f => [.. f[..^1], "-"]);
        AssertUserError(CliRunner.Run("evaluate", "--model", Tiny, "--split", "validation_matched", "--set", $"data.eval.validation_matched={unlabelled}"),
            unlabelled, "no usable example", "20 row(s) without a gold label");
    }

    [Test]
    public void AnFp16ExportSaysWhichValuesBecameInfinite()
    {
        var model = ModelWith("big-model", "encoder.final_layer_norm.weight", 1e6f);
        var result = CliRunner.Run("convert", "--model", model, "--output", Path.Combine(_dir, "fp16"), "--dtype", "fp16", "--host-only");
        Assert.That(result.ExitCode, Is.Zero, result.Output + result.Error);
        Assert.That(result.Output, Does.Contain("warning: encoder.final_layer_norm.weight: 1 value(s) beyond the F16 range (largest magnitude 1E+06) became infinite"));
        var bf16 = CliRunner.Run("convert", "--model", model, "--output", Path.Combine(_dir, "bf16"), "--dtype", "bf16", "--host-only");
        Assert.That(bf16.Output, Does.Not.Contain("warning"), "1e6 fits bf16");
    }

    [Test]
    public void AModelFolderThatDoesNotExistIsSaidSo()
    {
        var missing = Path.Combine(_dir, "nonexistent");
        foreach (var args in new[]
                 {
                     new[] { "generate", "-m", missing, "--prompt", "hi" },
                     ["evaluate", "-m", missing],
                     ["convert", "--model", missing, "--output", Path.Combine(_dir, "o")],
                     ["tokenize", "-m", missing],
                 })
        {
            var result = CliRunner.Run(args);
            AssertUserError(result, missing, "no such folder");
            Assert.That(result.Error, Does.Not.Contain("no spiece.model"), args[0]);
        }
    }

    [Test]
    public void AnUnwritableReportFailsBeforeTheEvaluation()
    {
        var notAFolder = Path.Combine(_dir, "file");
        File.WriteAllText(notAFolder, "");
        var result = CliRunner.Run("evaluate", "--model", Fixture("flan-t5-tiny-mnli"), "--split", "validation_matched",
            "--set", $"data.eval.validation_matched={Fixture("synthetic-mnli/glue/dev_matched.tsv")}", "-o", Path.Combine(notAFolder, "report.json"));
        AssertUserError(result, Path.Combine(notAFolder, "report.json"));
        Assert.That(result.Output, Does.Not.Contain("accuracy"), "refused before evaluating");
    }

    [Test]
    public void TokenizeDecodesEveryIdTheModelsVocabularyHas()
    {
        // flan-t5-tiny: 2100 tokenizer ids, 2176 embedding rows; the extra rows decode to nothing, as in Hugging Face.
        var (code, output, error) = ChildCli.Run(["tokenize", "--model", Tiny, "--decode"], stdin: "59 2100 2175 1\n");
        Assert.That(code, Is.Zero, output + error);
        Assert.That(output.Trim(), Is.EqualTo("entailment</s>"));
        (code, _, error) = ChildCli.Run(["tokenize", "--model", Tiny, "--decode"], stdin: "2176\n");
        Assert.That(code, Is.EqualTo(ExitCodes.UserError));
        Assert.That(error, Does.Contain("'2176' is not a token id (0..2175)"));
    }

    [Test]
    public void TruncatedTrainingPromptsAreCountedAndReported()
    {
        var longPremise = string.Join(' ', Enumerable.Repeat("The quick brown fox jumps over the lazy dog.", 2300)); // ~100k characters
        var train = TrainFile("long.tsv", 64, f => f[0] == "3" ? [.. f[..8], longPremise, .. f[9..]] : f);
        var runDir = Path.Combine(_dir, "run");
        var result = CliRunner.Run("finetune", "--no-eval", "--set", "training.steps=2", "--set", $"data.train={train}",
            "--set", $"output.run_dir={runDir}");
        Assert.That(result.ExitCode, Is.Zero, result.Output + result.Error);
        Assert.That(result.Output, Does.Match(@"note: [1-9]\d* training prompt\(s\) fed were longer than model.source_length 64 tokens and were cut \(the longest: \d{4,} tokens\)"));
        var summary = RunSummaryText(runDir);
        Assert.That(summary, Does.Match("\"truncated_sources\": [1-9]"));
    }

    private static string RunSummaryText(string runDir) => File.ReadAllText(Path.Combine(runDir, "summary.json"));

    [Test]
    public void AConfigJsonClaimingAMillionLayersIsRefusedAtOnce()
    {
        var model = Path.Combine(_dir, "million");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.EnumerateFiles(Tiny).Where(f => !f.Contains("reference")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!.AsObject();
        json["num_layers"] = 1_000_000;
        File.WriteAllText(Path.Combine(model, "config.json"), json.ToJsonString());

        var clock = System.Diagnostics.Stopwatch.StartNew();
        AssertUserError(CliRunner.Run("convert", "--model", model, "--output", Path.Combine(_dir, "o"), "--host-only"),
            "num_layers 1000000", "holds 2 encoder block(s)");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)));
    }
}
