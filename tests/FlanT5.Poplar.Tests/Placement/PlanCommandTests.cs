using System.CommandLine;
using System.Text.Json.Nodes;
using FlanT5.Poplar.Cli.Commands;

namespace FlanT5.Poplar.Tests.Placement;

public class PlanCommandTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand { PlanCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var code = root.Parse(["plan", .. args]).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Test]
    public void PresetXxlPod16PrintsTheTableAndTheReference()
    {
        var (code, output, error) = Run("--preset", "xxl-pod16");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("IPU   stage  weights"));
        Assert.That(output, Does.Contain("0-15"));
        Assert.That(output, Does.Contain("TP16 x PP1 x DP1 (16 IPUs), recompute, weights streaming, optimizer streaming, phased"));
        Assert.That(output, Does.Contain("Fits: yes"));
        Assert.That(output, Does.Contain("Predicted step time"));
        Assert.That(output, Does.Contain("Reference xxl-pod16: published 36.0 s per step"));
    }

    [Test]
    public void XxlOnChipDoesNotFitAndNamesTheIpu()
    {
        var (code, output, _) = Run("--model", "flan-t5-xxl", "--ipus", "16", "--tensor-parallel", "16", "--recompute");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("0-15"));
        Assert.That(output, Does.Contain("Fits: NO; IPU 0 (replica 0, stage 0, tp rank 0) needs"));
    }

    [Test]
    public void BadTensorParallelIsAnArgumentError()
    {
        var (code, output, error) = Run("--model", "xxl", "--tensor-parallel", "5");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(output, Is.Empty);
        Assert.That(error, Does.Contain("tensor_parallel: 5 does not divide num_heads 64"));
    }

    [Test]
    public void MissingModelIsAnArgumentError()
    {
        var (code, _, error) = Run("--ipus", "4");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--model"));
    }

    [Test]
    public void ModelDirectoryWithConfigJsonIsRead()
    {
        var dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "flan-t5-tiny");
        var (code, output, error) = Run("--model", dir, "--seq-len", "32", "--global-batch", "8", "--json");
        Assert.That(code, Is.Zero, error);
        var json = JsonNode.Parse(output)!;
        Assert.That(json["model"]!.GetValue<string>(), Is.EqualTo("flan-t5-tiny"));
        Assert.That(json["fits"]!.GetValue<bool>(), Is.True);
        Assert.That(json["ipus"]!.AsArray(), Has.Count.EqualTo(1));
        Assert.That(json["gradientAccumulation"]!.GetValue<int>(), Is.EqualTo(8));
        Assert.That(json["stepTime"]!["totalSeconds"]!.GetValue<double>(), Is.GreaterThan(0));
    }

    [Test]
    public void AutoFindsAPlanForXxlOn16Ipus()
    {
        var (code, output, error) = Run("--model", "flan-t5-xxl", "--ipus", "16", "--auto");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("fitting plans for flan-t5-xxl on 16 IPUs"));
        Assert.That(output, Does.Contain("Runners-up:"));
        Assert.That(output, Does.Contain("Fits: yes"));
    }

    [Test]
    public void IpusMustMatchTheDegrees()
    {
        var (code, _, error) = Run("--model", "xl", "--ipus", "8", "--tensor-parallel", "8", "--replicas", "2");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--ipus: 8 differs"));
    }

    [Test]
    public void TheTableRowsOfAPipelineAreEveryStagesIpusInPoplarsNumbering()
    {
        // tp 4 x pp 2: Poplar replica k (the tp rank here) holds IPUs 2k and 2k + 1, so stage 0 is the even IPUs
        var (code, output, error) = Run("--model", "base", "--tensor-parallel", "4", "--pipeline-stages", "2", "--seq-len", "128",
            "--global-batch", "4", "--encoder-layers-per-stage", "12,0", "--decoder-layers-per-stage", "0,12");
        Assert.That(code, Is.Zero, error);
        var rows = output.Split('\n').Where(l => l.StartsWith("0,2..6", StringComparison.Ordinal) || l.StartsWith("1,3..7", StringComparison.Ordinal)).ToList();
        Assert.That(rows, Has.Count.EqualTo(2), output);
        Assert.That(rows[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Is.EqualTo("0"));
        Assert.That(rows[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Is.EqualTo("1"));
    }

    [Test]
    public void LayersPerStageCanBeGiven()
    {
        var (code, output, error) = Run("--model", "base", "--tensor-parallel", "4", "--pipeline-stages", "2", "--seq-len", "128", "--global-batch", "4",
            "--encoder-layers-per-stage", "12,0", "--decoder-layers-per-stage", "0,12", "--json");
        Assert.That(code, Is.Zero, error);
        var plan = JsonNode.Parse(output)!["plan"]!;
        Assert.That(plan["encoderLayersPerStage"]!.AsArray().Select(n => n!.GetValue<int>()), Is.EqualTo(new[] { 12, 0 }));
        Assert.That(plan["schedule"]!.GetValue<string>(), Is.EqualTo("gpipe"));

        (code, _, error) = Run("--model", "base", "--pipeline-stages", "2", "--encoder-layers-per-stage", "12,1");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("encoder_layers_per_stage: adds up to 13 layers; the model has num_layers 12"));
    }

    [Test]
    public void InferenceXlOnFourIpusWithStreamedWeightsFits()
    {
        var (code, output, error) = Run("--inference", "--model", "flan-t5-xl", "--tensor-parallel", "4", "--batch", "4",
            "--max-source-length", "512", "--max-target-length", "20", "--weights-location", "streaming");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("Serving  weights only (no gradients, no optimizer state): TP4 x PP1 x DP1 (4 IPUs), weights streaming"));
        Assert.That(output, Does.Contain("IPU  stage  weights  KV cache  encoder out  working"));
        Assert.That(output, Does.Contain("0-3 "));
        Assert.That(output, Does.Contain("Fits: yes"));
        Assert.That(output, Does.Match(@"Predicted decoding: [0-9.]+ ms per step \(one token for each of 4 rows\), [0-9]+ tokens/s while decoding"));
        Assert.That(output, Does.Contain("Assumptions:"));
        Assert.That(output, Does.Contain("Run it: `flant5 generate --precision fp16|fp32 --tensor-parallel N"));
    }

    [Test]
    public void InferenceWithWeightsOnChipIsRefusedWithWhatToChange()
    {
        var (code, output, _) = Run("--inference", "--model", "xl", "--tensor-parallel", "4", "--batch", "4");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("Fits: NO; IPU 0 (replica 0, stage 0, tp rank 0) needs 1.77 GB on-chip"));
        Assert.That(output, Does.Contain("To fit, change one of:"));
        Assert.That(output, Does.Match(@"--tensor-parallel 16 +16 IPUs, peak"));
        Assert.That(output, Does.Match(@"--weights-location streaming +4 IPUs, peak"));
    }

    [Test]
    public void InferenceJsonHasOneEntryPerIpu()
    {
        var (code, output, error) = Run("--inference", "--model", "xxl", "--tensor-parallel", "16", "--batch", "3", "--weights-location", "streaming", "--json");
        Assert.That(code, Is.Zero, error);
        var json = JsonNode.Parse(output)!;
        Assert.That(json["fits"]!.GetValue<bool>(), Is.True);
        Assert.That(json["ipus"]!.AsArray(), Has.Count.EqualTo(16));
        Assert.That(json["ipus"]![0]!["kvCache"]!.GetValue<long>(), Is.GreaterThan(0));
        Assert.That(json["decode"]!["decodeTokensPerSecond"]!.GetValue<double>(), Is.GreaterThan(0));
        Assert.That(json["assumptions"]!.AsArray(), Has.Count.GreaterThan(3));
    }

    [Test]
    public void ServingAndTrainingOptionsDoNotMix()
    {
        var (code, _, error) = Run("--model", "xl", "--batch", "4");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--batch: only used to plan a serving session; add --inference"));
        (code, _, error) = Run("--inference", "--model", "xl", "--global-batch", "8");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--global-batch: plans training"));
        (code, _, error) = Run("--inference", "--model", "xl", "--batch", "0");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("batch: 0; expected >= 1"));
    }

    [Test]
    public void InferenceTakesItsDefaultsFromARunConfig()
    {
        // xxl-pod16: flan-t5-xxl, tensor_parallel 16, fp16, source_length 512, inference batch 20 × 1 beam, 5 new tokens.
        var config = FlanT5.Poplar.Tests.Configuration.RepositoryRoot.Combine("configs", "xxl-pod16.yaml");
        var (code, output, error) = Run("--inference", "--config", config, "--weights-location", "streaming", "--batch", "8", "--json");
        Assert.That(code, Is.Zero, error);
        var json = JsonNode.Parse(output)!;
        Assert.That(json["model"]!.GetValue<string>(), Is.EqualTo("flan-t5-xxl"));
        Assert.That(json["serving"]!["tensorParallel"]!.GetValue<int>(), Is.EqualTo(16));
        Assert.That(json["shape"]!["batch"]!.GetValue<int>(), Is.EqualTo(8));
        Assert.That(json["shape"]!["maxSourceLength"]!.GetValue<int>(), Is.EqualTo(512));
        Assert.That(json["shape"]!["maxTargetLength"]!.GetValue<int>(), Is.EqualTo(5));
        Assert.That(json["shape"]!["precision"]!.GetValue<string>(), Is.EqualTo("fp16"));
    }
}
