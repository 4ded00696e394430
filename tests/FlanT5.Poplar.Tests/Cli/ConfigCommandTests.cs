using System.Text.Json.Nodes;
using FlanT5.Poplar.Cli;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Tests.Cli;

public class ConfigCommandTests
{
    [Test]
    public void RootListsTheConfigCommand()
    {
        Assert.That(Program.CreateCommands().Select(c => c.Name), Does.Contain("config"));
        var help = CliRunner.Run("--help");
        Assert.That(help.ExitCode, Is.EqualTo(0));
        Assert.That(help.Output, Does.Contain("config").And.Contain("--verbose"));
    }

    [Test]
    public void ShowPrintsTheDefaultsWithDerivedValues()
    {
        var result = CliRunner.Run("config", "show");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.Error);
        Assert.That(result.Output, Does.StartWith($"# source: {Configuration.RepositoryRoot.Combine("configs", "tiny-emulator.yaml")}"));
        Assert.That(result.Output, Does.Contain($"  checkpoint: {Configuration.RepositoryRoot.Combine("samples", "models", "flan-t5-tiny")}\n"));
        Assert.That(result.Output, Does.Contain("\n  steps: 400\n").And.Contain("\n    maximum: 0.001\n"));
        Assert.That(result.Output, Does.Contain("#   gradient_accumulation: 1").And.Contain("#   ipus: 1"));
    }

    [Test]
    public void ShowAppliesPresetAndOverrides()
    {
        var result = CliRunner.Run("config", "show", "--preset", "xxl-pod16", "--set", "training.steps=100",
            "--set", "execution.data_parallel=2", "--origins");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.Error);
        Assert.That(result.Output, Does.Contain("\n  steps: 100\n"));
        Assert.That(result.Output, Does.Contain("#   gradient_accumulation: 64").And.Contain("#   ipus: 32"));
        Assert.That(result.Output, Does.Contain("#   training.steps: --set training.steps=100"));
        Assert.That(result.Output, Does.Match(@"#   training\.global_batch_size: .*xxl-pod16\.yaml:\d+"));
    }

    [Test]
    public void ShowYamlOutputLoadsBackAsAConfig()
    {
        var result = CliRunner.Run("config", "show", "--preset", "xl-pod16");
        var file = Path.Combine(Path.GetTempPath(), $"ft5-show-{Guid.NewGuid():N}.yaml");
        try
        {
            File.WriteAllText(file, result.Output);
            var reread = RunConfigLoader.LoadFile(file);
            // The command ran in this process's working directory, which anchors output.run_dir.
            var original = RunConfigLoader.Load(null, "xl-pod16", [], Environment.CurrentDirectory).Config;
            Assert.That(reread, Is.EqualTo(original));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void ShowJsonHasTheDerivedSection()
    {
        var result = CliRunner.Run("config", "show", "--preset", "xl-pod8", "--format", "json");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.Error);
        var json = JsonNode.Parse(result.Output)!;
        Assert.That(json["derived"]!["gradient_accumulation"]!.GetValue<int>(), Is.EqualTo(128));
        Assert.That(json["derived"]!["ipus"]!.GetValue<int>(), Is.EqualTo(8));
        Assert.That(json["execution"]!["tensor_parallel"]!.GetValue<int>(), Is.EqualTo(8));
    }

    [Test]
    public void ValidateAcceptsTheTinyPreset()
    {
        var result = CliRunner.Run("config", "validate", "--preset", "tiny-emulator");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.Error);
        Assert.That(result.Output, Does.StartWith("ok: ").And.Contain("1 IPU(s)").And.Contain("emulator, fp32"));
    }

    [Test]
    public void ValidateReportsMissingFilesWithoutAStackTrace()
    {
        var result = CliRunner.Run("config", "validate", "--preset", "xl-pod8");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Match(@"^error: .*xl-pod8\.yaml:\d+: model\.checkpoint directory '.*flan-t5-xl' does not exist"));
        Assert.That(result.Error, Does.Not.Contain("   at "));
        Assert.That(CliRunner.Run("config", "validate", "--preset", "xl-pod8", "--skip-paths").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void ValidateSaysTheHalfPrecisionPresetsNumberFormats()
    {
        foreach (var preset in new[] { "xl-pod8", "xl-pod16", "xxl-pod16", "xxl-pod64" })
        {
            var result = CliRunner.Run("config", "validate", "--preset", preset, "--skip-paths");
            Assert.That(result.ExitCode, Is.EqualTo(0), result.Error);
            Assert.That(result.Output, Does.Contain("fp16 (weights rounded stochastically, AdamW moments fp32)"));
        }
    }

    [TestCase("execution.tensor_parallel=3", "execution.tensor_parallel does not fit the model in", "3 does not divide num_heads 4")]
    [TestCase("execution.pipeline_stages=5", "execution.pipeline_stages does not fit the model in", "5 stages exceed the 4 layers")]
    public void ValidateChecksThePlacementAgainstTheCheckpointAsFinetuneDoes(string set, string key, string why)
    {
        var validate = CliRunner.Run("config", "validate", "--set", set);
        Assert.That(validate.ExitCode, Is.EqualTo(2), validate.Output);
        Assert.That(validate.Error, Does.Contain(key).And.Contain(why).And.Contain("flan-t5-tiny"));
        // finetune refuses with the same words, before it writes anything.
        var runDir = Path.Combine(Path.GetTempPath(), $"ft5-placement-{Guid.NewGuid():N}");
        var finetune = CliRunner.Run("finetune", "--set", set, "--set", $"output.run_dir={runDir}");
        Assert.That(finetune.ExitCode, Is.EqualTo(2), finetune.Output);
        Assert.That(finetune.Error, Is.EqualTo(validate.Error));
        Assert.That(Directory.Exists(runDir), Is.False);
    }

    [Test]
    public void ValidateChecksThePlacementAgainstTheArchitectureWhileTheCheckpointIsAbsent()
    {
        var result = CliRunner.Run("config", "validate", "--preset", "xl-pod8", "--skip-paths", "--set", "execution.tensor_parallel=3");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("execution.tensor_parallel does not fit flan-t5-xl: 3 does not divide num_heads 32")
            .And.Match(@"model\.architecture from .*xl-pod8\.yaml:\d+"));
    }

    [Test]
    public void InconsistentOverrideIsAUserError()
    {
        var result = CliRunner.Run("config", "validate", "--preset", "xl-pod16", "--skip-paths", "--set", "execution.data_parallel=3");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.Contain("training.global_batch_size is 128, not a multiple of")
            .And.Contain("execution.data_parallel from --set execution.data_parallel=3"));
    }

    [Test]
    public void VerboseAddsTheStackTrace()
    {
        var result = CliRunner.Run("config", "show", "--set", "training.steps=x", "--verbose");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.StartWith("error: --set training.steps=x: training.steps: expected an integer, found 'x'"));
        Assert.That(result.Error, Does.Contain("   at "));
    }

    [Test]
    public void ParseErrorsExitWithTwo()
    {
        var result = CliRunner.Run("config", "show", "--sett", "x");

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.StartWith("error: ").And.Contain("--sett").And.Contain("flant5 config show --help"));
    }

    [Test]
    public void ConfigAndPresetTogetherIsAUserError()
    {
        var result = CliRunner.Run("config", "show", "--config", "a.yaml", "--preset", "tiny-emulator");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Is.EqualTo("error: give either --config FILE or --preset NAME, not both" + Environment.NewLine));
    }
}
