using FlanT5.Poplar.Cli.Commands;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Parity;

/// <summary>
/// The numerics issue's acceptance, through `flant5 parity`: forward logits, loss, encoder states and every gradient
/// against Hugging Face's float64 results; greedy and beam-3 ids; cached against uncached decoding; the 12-step AdamW
/// trajectory. Bounds: logits 1e-5, loss 1e-6, encoder 1e-5, gradients 1e-4, trajectory losses and weights 1e-4.
/// </summary>
public sealed class ReferenceParityTests
{
    private static string Fixture(string relative) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", relative);

    private static (int Code, string Output) Parity(string model, string? reference, string? trajectory)
    {
        var output = new StringWriter();
        int code = ParityCommand.Run(Fixture(model), reference is null ? null : Fixture(reference),
            trajectory is null ? null : Fixture(trajectory), new DeviceModelOptions { DropoutRate = 0 }, output);
        return (code, output.ToString());
    }

    [TestCase("flan-t5-tiny", 60)]
    [TestCase("hf-t5-tiny", 61)]
    public void ForwardBackwardGenerationAndTrajectoryMatchHuggingFace(string model, int expectedRows)
    {
        var (code, output) = Parity(model, $"{model}/reference_forward_backward.safetensors", $"{model}/reference_adamw_trajectory.json");
        Assert.That(output, Does.Contain($"{expectedRows} of {expectedRows} within bounds"), output);
        Assert.That(output, Does.Contain("greedy_ids (16 rows)").And.Contain("beam3_ids (16 rows)").And.Contain("trajectory losses"));
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
    public void AModelThatIsNotTheReferencesFailsAndSaysWhere()
    {
        // flan-t5-tiny-mnli has flan-t5-tiny's structure but other weights.
        var (code, output) = Parity("flan-t5-tiny-mnli", "flan-t5-tiny/reference_forward_backward.safetensors", null);
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(output, Does.Contain("FAIL"));
        Assert.That(output, Does.Match(@"logits \(float64 reference\)\s+\S+\s+1\.00e-05\s+rel L2\s+FAIL"));
    }
}
