using System.Globalization;
using System.Text.Json.Nodes;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>
/// The gradient reduction between IPU-Link domains over GW-Links: absent inside one domain (an IPU-POD64, however
/// many host instances drive it), and the documented hierarchical ring formula when replicas span several domains.
/// </summary>
public class GwLinkReductionTests
{
    private static readonly ReferencePreset Pod64 = ReferencePresets.Find("xxl-pod64");

    private static StepTimeEstimate Estimate(ReferencePreset p, int ipusPerLinkDomain, TrainingShape? shape = null, PlacementPlan? plan = null) =>
        new CostModel().Estimate(p.Model, plan ?? p.Plan, shape ?? p.Shape, p.Target with { IpusPerLinkDomain = ipusPerLinkDomain });

    private static double ElementsPerIpu(ReferencePreset p, PlacementPlan plan) =>
        TensorParallelPlan.Build(p.Model, plan, EmbeddingLayout.Shared).ElementsOnStage(0);

    [Test]
    public void APod64IsOneDomainSoNoGradientCrossesAGwLink()
    {
        var time = Estimate(Pod64, ipusPerLinkDomain: 64);
        Assert.That(time.GwLinkSeconds, Is.Zero);
        Assert.That(time.DataParallelSeconds, Is.GreaterThan(0), "the 4 replicas still reduce over IPU-Links");
        Assert.That(time.Components.Select(c => c.Name), Does.Contain("GW-Link reduction"));
        Assert.That(time.TotalSeconds, Is.EqualTo(time.Components.Sum(c => c.Seconds)).Within(1e-12));
        Assert.That(CostModel.LinkDomains(Pod64.Plan, Pod64.Target), Is.EqualTo((1, 4)));
    }

    [Test]
    public void FourDomainsOfOneReplicaFollowTheRingFormula()
    {
        // Phased execution (the reference): per IPU (L−1)/L of its fp32 gradients reduce-scattered and 2 × (L−1)/L
        // of its fp16 weights all-gathered, over 2 × 100 Gbps per IPU-M2000 shared by its 4 IPUs.
        var time = Estimate(Pod64, ipusPerLinkDomain: 16);
        var elements = ElementsPerIpu(Pod64, Pod64.Plan);
        var expected = (0.75 * elements * 4 + 2 * 0.75 * elements * 2) / (2 * 100e9 / 8 / 4);
        Assert.That(time.GwLinkSeconds, Is.EqualTo(expected).Within(1e-9).Percent);
        Assert.That(time.DataParallelSeconds, Is.Zero, "one replica per domain: nothing left to reduce over IPU-Links");
        var oneDomain = Estimate(Pod64, ipusPerLinkDomain: 64);
        Assert.That(time.TotalSeconds - oneDomain.TotalSeconds, Is.EqualTo(time.GwLinkSeconds - oneDomain.DataParallelSeconds).Within(1e-9));
    }

    [Test]
    public void TheTermScalesWithGradientBytesAndTheRing()
    {
        // Weights on chip (no sharded streaming state): the whole term is the ring all-reduce of the gradients,
        // 2(L−1)/L × elements/r × accumulator bytes, r replicas per domain.
        var onChip = PlacementPlan.Create(Pod64.Model, tensorParallel: 16, pipelineStages: 1, replicas: 8, recompute: true);
        var elements = ElementsPerIpu(Pod64, onChip);
        var fp32 = Pod64.Shape;
        var fp16 = Pod64.Shape with { AccumulatorPrecision = NumericPrecision.Fp16 };
        foreach (var (domainIpus, domains, perDomain) in new[] { (64, 2, 4), (32, 4, 2), (16, 8, 1) })
        {
            Assert.That(CostModel.LinkDomains(onChip, Pod64.Target with { IpusPerLinkDomain = domainIpus }), Is.EqualTo((domains, perDomain)));
            var wide = Estimate(Pod64, domainIpus, fp32, onChip).GwLinkSeconds;
            var ring = 2.0 * (domains - 1) / domains * elements / perDomain * 4 / 6.25e9;
            Assert.That(wide, Is.EqualTo(ring).Within(1e-9).Percent, $"{domains} domains of {perDomain} replicas");
            Assert.That(Estimate(Pod64, domainIpus, fp16, onChip).GwLinkSeconds, Is.EqualTo(wide / 2).Within(1e-9).Percent,
                "half the gradient bytes, half the time");
        }
    }

    [TestCase(8, "is not a multiple of the 16 IPUs of a replica")]
    [TestCase(48, "does not divide the plan's 64 IPUs")]
    public void DomainsMustHoldWholeReplicasEvenly(int domainIpus, string message)
    {
        var e = Assert.Throws<InvalidPlanException>(() => Estimate(Pod64, domainIpus));
        Assert.That(e!.Field, Is.EqualTo("ipus_per_link_domain"));
        Assert.That(e.Message, Does.Contain(message));
    }

    [Test]
    public void SearchBeyondOneDomainKeepsOnlyReplicasThatFillWholeDomains()
    {
        var model = Poplar.Configuration.T5ModelConfig.FlanT5("small");
        var target = IpuTarget.Mk2(128);
        var found = new PlanSearch(new MemoryPlanner(), new CostModel()).FittingPlans(model, new TrainingShape(), target);
        Assert.That(found, Is.Not.Empty);
        Assert.That(found.All(c => 64 % c.Plan.IpusPerReplica == 0), found[0].Plan.Describe());
        Assert.That(found.Where(c => c.Plan.Replicas > 1).All(c => c.Time.GwLinkSeconds > 0), "128 IPUs are two domains");
    }

    private static (int Code, string Output, string Error) Plan(params string[] args)
    {
        var root = new System.CommandLine.RootCommand { FlanT5.Poplar.Cli.Commands.PlanCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var code = root.Parse(["plan", .. args]).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static double Row(string output, string name)
    {
        var line = output.Split('\n').Single(l => l.TrimStart().StartsWith(name, StringComparison.Ordinal));
        return double.Parse(line.Trim()[name.Length..].Trim().TrimEnd('s').Trim(), CultureInfo.InvariantCulture);
    }

    [Test]
    public void PlanShowsThePod64LaunchAndItsGwLinkTerm()
    {
        var (code, output, error) = Plan("--preset", "xxl-pod64");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("Launch  4 instance(s) x 1 replica(s) (poprun --num-instances 4 --num-replicas 4 --ipus-per-replica 16); " +
                                         "1 IPU-Link domain(s) of up to 64 IPUs, so no gradient crosses a GW-Link"));
        Assert.That(Row(output, "GW-Link reduction"), Is.Zero);

        var (splitCode, split, splitError) = Plan("--preset", "xxl-pod64", "--ipus-per-link-domain", "16");
        Assert.That(splitCode, Is.Zero, splitError);
        Assert.That(split, Does.Contain("4 IPU-Link domain(s) of up to 16 IPUs, joined by GW-Links"));
        var expected = Estimate(Pod64, ipusPerLinkDomain: 16).GwLinkSeconds;
        Assert.That(Row(split, "GW-Link reduction"), Is.EqualTo(expected).Within(0.0005), "printed to the millisecond");
    }

    [Test]
    public void PlanJsonRecordsTheLaunchAndInstancesMustDivideTheReplicas()
    {
        var (code, output, error) = Plan("--preset", "xxl-pod64", "--instances", "2", "--json");
        Assert.That(code, Is.Zero, error);
        var json = JsonNode.Parse(output)!;
        Assert.That(json["launch"]!["instances"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(json["launch"]!["replicasPerInstance"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(json["launch"]!["linkDomains"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(json["stepTime"]!["components"]!["GW-Link reduction"]!.GetValue<double>(), Is.Zero);

        var (badCode, _, badError) = Plan("--preset", "xxl-pod64", "--instances", "3");
        Assert.That(badCode, Is.EqualTo(2));
        Assert.That(badError, Does.Contain("--instances: 3 does not divide the 4 replica(s)"));
    }
}
