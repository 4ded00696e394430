using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Tests.Configuration;

public class RunConfigLoaderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ft5-config-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private LoadedRunConfig Load(string? file, params string[] overrides) => RunConfigLoader.Load(file, null, overrides, _dir);

    [Test]
    public void YamlValuesOverrideDefaultsAndRecordTheirLine()
    {
        var file = Write("run.yaml", "training:\n  steps: 12\n  learning_rate:\n    maximum: 2.5e-4\n    schedule: cosine\n");

        var loaded = Load(file);

        Assert.Multiple(() =>
        {
            Assert.That(loaded.Config.Training.Steps, Is.EqualTo(12));
            Assert.That(loaded.Config.Training.LearningRate.Maximum, Is.EqualTo(2.5e-4));
            Assert.That(loaded.Config.Training.LearningRate.Schedule, Is.EqualTo(LearningRateScheduleKind.Cosine));
            Assert.That(loaded.Config.Training.GlobalBatchSize, Is.EqualTo(RunConfig.Default.Training.GlobalBatchSize));
            Assert.That(loaded.OriginOf("training.steps"), Is.EqualTo(new ConfigLocation(file, 2)));
            Assert.That(loaded.OriginOf("training.learning_rate.maximum"), Is.EqualTo(new ConfigLocation(file, 4)));
            Assert.That(loaded.OriginOf("training.global_batch_size"), Is.EqualTo(ConfigLocation.Default));
        });
    }

    [Test]
    public void JsonIsReadLikeYaml()
    {
        var file = Write("run.json", """
            {
              "training": { "steps": 7, "optimizer": { "weight_decay": 0.01 } },
              "execution": { "micro_batch_size": 8 },
              "model": { "precision": "fp16" }
            }
            """);

        var config = Load(file).Config;

        Assert.That(config.Training.Steps, Is.EqualTo(7));
        Assert.That(config.Training.Optimizer.WeightDecay, Is.EqualTo(0.01));
        Assert.That(config.Execution.MicroBatchSize, Is.EqualTo(8));
        Assert.That(config.GradientAccumulation, Is.EqualTo(4));
        Assert.That(config.Model.Precision, Is.EqualTo(Precision.Fp16));
    }

    [Test]
    public void UnknownYamlKeyNamesFileLineAndKey()
    {
        var file = Write("run.yaml", "training:\n  steps: 5\n  stepz: 6\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Does.StartWith($"{file}:3: training.stepz: unknown key"));
        Assert.That(e.Message, Does.Contain("global_batch_size"));
    }

    [Test]
    public void UnknownSectionIsAnError()
    {
        var file = Write("run.yaml", "model:\n  precision: fp32\ntrainer:\n  steps: 5\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Does.StartWith($"{file}:3: trainer: unknown key; the top level accepts model, training"));
    }

    [Test]
    public void WrongTypeInJsonNamesFileLineAndKey()
    {
        var file = Write("run.json", "{\n  \"training\": {\n    \"steps\": \"many\"\n  }\n}\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Is.EqualTo($"{file}:3: training.steps: expected an integer, found \"many\""));
    }

    [TestCase("training:\n  steps: 1.5\n", "training.steps: expected an integer, found '1.5'")]
    [TestCase("training:\n  steps: '5'\n", "training.steps: expected an integer, found \"5\"")]
    [TestCase("model:\n  precision: bf16\n", "model.precision: expected one of fp32, fp16, float32, float16, found 'bf16'")]
    [TestCase("data:\n  drop_last: yes\n", "data.drop_last: expected true or false, found 'yes'")]
    [TestCase("data:\n  padding: 8\n", "data.padding: expected one of buckets, fixed, longest, found '8'")]
    [TestCase("data:\n  pad_to_multiple: 8\n", "pad_to_multiple")]
    [TestCase("training:\n  learning_rate: 0.1\n", "training.learning_rate: expected a mapping of keys")]
    [TestCase("training:\n  steps: [1, 2]\n", "training.steps: expected an integer, found a list")]
    [TestCase("training:\n  learning_rate:\n    maximum: .nan\n", "training.learning_rate.maximum: expected a number, found '.nan'")]
    public void BadValuesAreReportedWithKeyAndValue(string yaml, string expected)
    {
        var file = Write("run.yaml", yaml);

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Does.Contain(expected));
        Assert.That(e.Message, Does.StartWith(file + ":"));
    }

    [Test]
    public void YamlSyntaxErrorNamesTheLineAndColumn()
    {
        var file = Write("run.yaml", "training:\n  steps: 5\n  seed: [1\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Does.Match($"^{System.Text.RegularExpressions.Regex.Escape(file)}:[34]:[0-9]+: not valid YAML"));
    }

    [Test]
    public void DuplicateJsonKeyIsAnError()
    {
        var file = Write("run.json", "{\"training\": {\"steps\": 1,\n \"steps\": 2}}");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Is.EqualTo($"{file}:2: duplicate key 'steps'"));
    }

    [Test]
    public void InconsistentBatchNamesEveryKeyInvolvedAndWhereItWasSet()
    {
        var file = Write("run.yaml", "training:\n  global_batch_size: 128\nexecution:\n  micro_batch_size: 1\n  data_parallel: 3\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Does.StartWith($"{file}:2: training.global_batch_size is 128, not a multiple of"));
        Assert.That(e.Message, Does.Contain("3 × 1 = 3"));
        Assert.That(e.Message, Does.Contain($"execution.data_parallel from {file}:5"));
        Assert.That(e.Message, Does.Contain($"execution.micro_batch_size from {file}:4"));
    }

    [Test]
    public void InstancesMustDivideTheReplicas()
    {
        var file = Write("run.yaml", "training:\n  global_batch_size: 128\nexecution:\n  micro_batch_size: 1\n  data_parallel: 4\n  instances: 3\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        Assert.That(e!.Message, Does.StartWith($"{file}:6: execution.instances is 3, not a divisor of execution.data_parallel 4"));
        Assert.That(e.Message, Does.Contain($"execution.data_parallel from {file}:5"));
        Assert.That(Assert.Throws<InvalidDataException>(() => Load(null, "execution.instances=0"))!.Message,
            Does.Contain("execution.instances is 0; expected >= 1"));
        Assert.That(Load(file, "execution.instances=2").Config.ReplicasPerInstance, Is.EqualTo(2));
    }

    [Test]
    public void AllProblemsAreListedNotJustTheFirst()
    {
        var file = Write("run.yaml", "training:\n  steps: 0\ninference:\n  num_beams: 0\n");

        var e = Assert.Throws<InvalidDataException>(() => Load(file));

        var lines = e!.Message.Split(Environment.NewLine);
        Assert.That(lines, Has.Length.EqualTo(2));
        Assert.That(lines[0], Is.EqualTo($"{file}:2: training.steps is 0; expected >= 1"));
        Assert.That(lines[1], Is.EqualTo($"{file}:4: inference.num_beams is 0; expected >= 1"));
    }

    [Test]
    public void TensorParallelMustDivideTheHeadsOfTheArchitecture()
    {
        // Checked against the model (RunConfigPlacementCheck: config validate and the commands that run), not at load.
        var loaded = Load(null, "model.checkpoint=/nowhere/flan-t5-xl", "model.architecture=flan-t5-xl", "execution.tensor_parallel=6");
        var e = Assert.Throws<InvalidDataException>(() =>
            RunConfigLoader.ThrowIfAny(loaded, FlanT5.Poplar.Placement.RunConfigPlacementCheck.Check(loaded.Config)));

        Assert.That(e!.Message, Does.StartWith("--set execution.tensor_parallel=6: execution.tensor_parallel does not fit flan-t5-xl: " +
                                               "6 does not divide num_heads 32"));
    }

    [Test]
    public void OverridesApplyAfterTheFileAndAreNamedInErrors()
    {
        var file = Write("run.yaml", "training:\n  steps: 5\n");

        var loaded = Load(file, "training.steps=100", "execution.loss_scaling=dynamic", "data.prompt_template=\"q: {hypothesis} | {premise}\"");

        Assert.That(loaded.Config.Training.Steps, Is.EqualTo(100));
        Assert.That(loaded.OriginOf("training.steps").ToString(), Is.EqualTo("--set training.steps=100"));
        Assert.That(loaded.Config.Execution.LossScaling.Mode, Is.EqualTo(LossScalingMode.Dynamic));
        Assert.That(loaded.Config.Data.PromptTemplate, Is.EqualTo("q: {hypothesis} | {premise}"));

        var unknown = Assert.Throws<InvalidDataException>(() => Load(file, "training.stepz=1"));
        Assert.That(unknown!.Message, Does.StartWith("--set training.stepz=1: training.stepz: unknown key"));
        var malformed = Assert.Throws<ArgumentException>(() => Load(file, "training.steps"));
        Assert.That(malformed!.Message, Does.Contain("expected section.key=value"));
        var invalid = Assert.Throws<InvalidDataException>(() => Load(file, "training.steps=-1"));
        Assert.That(invalid!.Message, Is.EqualTo("--set training.steps=-1: training.steps is -1; expected >= 1"));
        var window = Assert.Throws<InvalidDataException>(() => Load(file, "data.length_bucket_window=-2"));
        Assert.That(window!.Message, Is.EqualTo("--set data.length_bucket_window=-2: data.length_bucket_window is -2; expected >= 0"));
        Assert.That(Load(file, "data.padding=fixed", "data.length_bucket_window=8").Config.Data,
            Has.Property("Padding").EqualTo(FlanT5.Poplar.Tokenization.PaddingMode.Fixed).And.Property("LengthBucketWindow").EqualTo(8));
    }

    [Test]
    public void LossScalingAcceptsANumberOrAMapping()
    {
        var asNumber = Load(Write("a.yaml", "execution:\n  loss_scaling: 512\n")).Config.Execution.LossScaling;
        var asMap = Load(Write("b.yaml", "execution:\n  loss_scaling:\n    mode: dynamic\n    initial: 32768\n    growth_interval: 200\n"))
            .Config.Execution.LossScaling;

        Assert.That(asNumber.Mode, Is.EqualTo(LossScalingMode.Static));
        Assert.That(asNumber.Initial, Is.EqualTo(512));
        Assert.That(asMap.Mode, Is.EqualTo(LossScalingMode.Dynamic));
        Assert.That(asMap.Initial, Is.EqualTo(32768));
        Assert.That(asMap.GrowthInterval, Is.EqualTo(200));
        var bad = Assert.Throws<InvalidDataException>(() => Load(Write("c.yaml", "execution:\n  loss_scaling: auto\n")));
        Assert.That(bad!.Message, Does.Contain("execution.loss_scaling: expected a static scale (a number), 'dynamic', or a mapping"));
    }

    [Test]
    public void RelativePathsInAFileAreRelativeToTheFileAndInOverridesToTheWorkingDirectory()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));
        var file = Write("sub/run.yaml", "model:\n  checkpoint: ../models/m\ndata:\n  eval:\n    validation_matched: null\n");

        var config = Load(file, "data.train=train.tsv").Config;

        Assert.That(config.Model.Checkpoint, Is.EqualTo(Path.Combine(_dir, "models", "m")));
        Assert.That(config.Data.Train, Is.EqualTo(Path.Combine(_dir, "train.tsv")));
        Assert.That(config.Data.Eval.ValidationMatched, Is.Null);
        Assert.That(config.Output.RunDir, Is.EqualTo(Path.Combine(_dir, "runs", "tiny-emulator", "{timestamp}")));
    }

    [Test]
    public void OutputPathsInAFileAreRelativeToTheWorkingDirectory()
    {
        // A preset installed with the tool must write where it is run, not into the tool's folder.
        Directory.CreateDirectory(Path.Combine(_dir, "presets"));
        var file = Write("presets/run.yaml", "output:\n  run_dir: runs/mine\ncheckpoint:\n  dir: ckpt\n  load: ../start\n");
        var elsewhere = Path.Combine(_dir, "work");

        var config = RunConfigLoader.Load(file, null, [], elsewhere).Config;

        Assert.That(config.Output.RunDir, Is.EqualTo(Path.Combine(elsewhere, "runs", "mine")));
        Assert.That(config.CheckpointDirectory, Is.EqualTo(Path.Combine(elsewhere, "ckpt")));
        Assert.That(config.Checkpoint.Load, Is.EqualTo(Path.Combine(_dir, "start")), "what a run reads stays relative to the file");
    }

    [Test]
    public void PromptTemplateMayOnlyUseTheTwoFields()
    {
        var e = Assert.Throws<InvalidDataException>(() => Load(null, "data.prompt_template=mnli {premise} {hypothesis} {label}"));
        Assert.That(e!.Message, Does.Contain("data.prompt_template uses {label}"));
    }

    [Test]
    public void ConfigFileAndPresetTogetherIsAnError()
    {
        Assert.Throws<ArgumentException>(() => RunConfigLoader.Load("a.yaml", "tiny-emulator", [], _dir));
    }

    [Test]
    public void MissingFileIsFileNotFound()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Load(Path.Combine(_dir, "nope.yaml")));
        Assert.That(e!.Message, Does.Contain("nope.yaml"));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void WrittenConfigReadsBackIdentically(bool asYaml)
    {
        var original = Load(null, "training.steps=33", "execution.loss_scaling=dynamic", "training.dropout=null",
            "model.architecture=flan-t5-small", "training.learning_rate.schedule=linear", "checkpoint.load=ck/step_10").Config;

        var text = asYaml ? RunConfigWriter.ToYaml(original, includeDerived: false) : RunConfigWriter.ToJson(original, includeDerived: false);
        var reread = Load(Write(asYaml ? "w.yaml" : "w.json", text)).Config;

        Assert.That(reread, Is.EqualTo(original));
    }

    [Test]
    public void EmptyFileMeansDefaults()
    {
        var config = Load(Write("empty.yaml", "# nothing\n")).Config;
        Assert.That(RunConfigWriter.ToJson(config, true), Is.EqualTo(RunConfigWriter.ToJson(Load(null).Config, true)));
    }
}

public class RunConfigJsonTextTests
{
    [Test]
    public void ConfigSavedAsJsonTextParsesBack()
    {
        var original = RunConfigLoader.Load(null, "xxl-pod64", [], RepositoryRoot.Path).Config;

        var back = RunConfigLoader.ParseJson(RunConfigWriter.ToJson(original, includeDerived: false), "checkpoint manifest");

        Assert.That(back, Is.EqualTo(original));
    }

    [Test]
    public void BadJsonTextNamesItsSource()
    {
        var e = Assert.Throws<InvalidDataException>(() => RunConfigLoader.ParseJson("{\"training\": {\"steps\": 0}}", "manifest of step_10"));
        Assert.That(e!.Message, Is.EqualTo("manifest of step_10:1: training.steps is 0; expected >= 1"));
    }
}
