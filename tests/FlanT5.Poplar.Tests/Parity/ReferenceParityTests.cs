using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Cli.Parity;
using FlanT5.Poplar.Tests.Interop;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Parity;

/// <summary>
/// Through `flant5 parity`: forward logits, loss, encoder states and every gradient against Hugging Face's float64
/// results; greedy and beam-3 ids; cached against uncached decoding; the 12-step AdamW trajectory against its float64
/// replay. The bounds and the noise floor they are derived from (measured under every OpenBLAS kernel family of an
/// AVX-512 host) are written beside them in <see cref="ReferenceParity"/>.
/// </summary>
public sealed class ReferenceParityTests
{
    private static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    private static (int Code, string Output) Parity(string model, string? reference, string? trajectory,
        DeviceModelOptions? options = null)
    {
        var output = new StringWriter();
        int code = ParityCommand.Run(Fixture(model), reference is null ? null : Fixture(reference),
            trajectory is null ? null : Fixture(trajectory), options ?? new DeviceModelOptions { DropoutRate = 0 }, output);
        return (code, output.ToString());
    }

    [TestCase("flan-t5-tiny", 61)]
    [TestCase("hf-t5-tiny", 62)]
    public void ForwardBackwardGenerationAndTrajectoryMatchHuggingFace(string model, int expectedRows)
    {
        var (code, output) = Parity(model, $"{model}/reference_forward_backward.safetensors", $"{model}/reference_adamw_trajectory.json");
        Assert.That(output, Does.Contain($"{expectedRows} of {expectedRows} within bounds"), output);
        Assert.That(output, Does.Contain("greedy_ids (16 rows)").And.Contain("beam3_ids (16 rows)").And.Contain("trajectory losses")
            .And.Contain("trajectory gradient norms"));
        Assert.That(code, Is.EqualTo(0), output);
    }

    /// <summary>The same checks, with the same bounds, on the Poplar builder's graph replicated over tensor-parallel
    /// pairs of two data-parallel groups (4 emulated IPUs).</summary>
    [Test]
    public void TheBuilderWithTensorAndDataParallelismPassesTheSameChecks()
    {
        var options = new DeviceModelOptions
        {
            DropoutRate = 0, TensorParallel = 2, Replicas = 2,
        };
        var (code, output) = Parity("flan-t5-tiny", "flan-t5-tiny/reference_forward_backward.safetensors",
            "flan-t5-tiny/reference_adamw_trajectory.json", options);
        Assert.That(output, Does.Contain("61 of 61 within bounds").And.Match(@"tp 2, pp 1, replicas 2, \d+ programs compiled"), output);
        Assert.That(code, Is.EqualTo(0), output);
    }

    [Test]
    public void GenerationThatStopsAtEosMatchesGreedyAndBeamIdsRowForRow()
    {
        var (code, output) = Parity("flan-t5-tiny-mnli", "flan-t5-tiny-mnli/reference_generation.safetensors", null);
        Assert.That(output, Does.Contain("greedy_ids (64 rows)").And.Contain("beam3_ids (64 rows)").And.Contain("teacher-forced logits"));
        Assert.That(output, Does.Contain("4 of 4 within bounds"), output);
        Assert.That(code, Is.EqualTo(0), output);
    }

    [Test]
    public void ATrajectoryWithoutItsFloat64ReplayIsRefusedWithTheFileToMake()
    {
        using var dir = new TempDirectory();
        foreach (var ext in new[] { ".json", ".safetensors" })
            File.Copy(Fixture($"flan-t5-tiny/reference_adamw_trajectory{ext}"), Path.Combine(dir.Path, "trajectory" + ext));
        var e = Assert.Throws<FileNotFoundException>(() => ParityCommand.Run(Fixture("flan-t5-tiny"), null,
            Path.Combine(dir.Path, "trajectory.json"), new DeviceModelOptions { DropoutRate = 0 }, new StringWriter()));
        Assert.That(e!.Message, Does.Contain("trajectory_f64.safetensors: missing").And.Contain("make_f64_trajectory.py"));
    }

    [Test]
    public void AModelThatIsNotTheReferencesFailsAndSaysWhere()
    {
        // flan-t5-tiny-mnli has flan-t5-tiny's structure but other weights.
        var (code, output) = Parity("flan-t5-tiny-mnli", "flan-t5-tiny/reference_forward_backward.safetensors", null);
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(output, Does.Contain("FAIL"));
        Assert.That(output, Does.Match(@"logits \(float64 reference\)\s+\S+\s+1\.00e-05\s+rel L2\s+FAIL"));
    }
}
