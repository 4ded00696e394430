using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>
/// Which instance this process is, from poprun's, mpirun's or no launcher's variables (a dictionary stands in for the
/// environment), and the errors for variables that contradict each other or the plan.
/// </summary>
public class InstanceLayoutTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    // poprun --num-instances 4 --num-replicas 4 --ipus-per-replica 16, as seen by instance `index`.
    private static (string, string)[] Poprun(int total, int local, int offset, int ipus) =>
    [
        (InstanceLayout.PopdistTotalReplicas, $"{total}"), (InstanceLayout.PopdistLocalReplicas, $"{local}"),
        (InstanceLayout.PopdistReplicaOffset, $"{offset}"), (InstanceLayout.PopdistIpusPerReplica, $"{ipus}"),
    ];

    private static InvalidLaunchException Fails(Func<string, string?> env, int replicas, int ipusPerReplica, int instances = 1) =>
        Assert.Throws<InvalidLaunchException>(() => InstanceLayout.Detect(env, replicas, ipusPerReplica, instances))!;

    [Test]
    public void NoLauncherIsOneInstanceDrivingEveryReplica()
    {
        var layout = InstanceLayout.Detect(Env(), replicas: 4, ipusPerReplica: 2);
        Assert.That(layout, Is.EqualTo(new InstanceLayout(Launcher.None, 0, 1, 0, 4)));
        Assert.That(layout.IsMultiInstance, Is.False);
        Assert.That(layout.Describe(), Is.EqualTo("none: instance 0 of 1, local replicas [0, 4)"));
    }

    [TestCase(0, 0)]
    [TestCase(1, 1)]
    [TestCase(3, 3)]
    public void PoprunPod64InstanceDrivesItsOwnReplica(int index, int offset)
    {
        var env = Env([.. Poprun(4, 1, offset, 16), (InstanceLayout.PopdistLocalInstanceIndex, "0")]);
        var layout = InstanceLayout.Detect(env, replicas: 4, ipusPerReplica: 16, expectedInstances: 4);
        Assert.That(layout, Is.EqualTo(new InstanceLayout(Launcher.Poprun, index, 4, offset, 1)));
        Assert.That(layout.Describe(), Is.EqualTo($"poprun: instance {index} of 4, local replicas [{offset}, {offset + 1})"));
    }

    [Test]
    public void PoprunWithSeveralReplicasPerInstanceDerivesIndexAndCountFromTheOffset()
    {
        // 8 replicas over 2 instances: the second starts at replica 4. Open MPI's variables (poprun runs mpirun) agree.
        var env = Env([.. Poprun(8, 4, 4, 2), (InstanceLayout.MpiRank, "1"), (InstanceLayout.MpiSize, "2"), (InstanceLayout.MpiLocalRank, "1"),
            (InstanceLayout.PopdistLocalInstanceIndex, "1"), (InstanceLayout.PopdistUniformReplicas, "1")]);
        Assert.That(InstanceLayout.Detect(env, 8, 2, 2), Is.EqualTo(new InstanceLayout(Launcher.Poprun, 1, 2, 4, 4)));
    }

    [TestCase(0, 0)]
    [TestCase(1, 2)]
    public void MpirunSplitsTheReplicasEvenlyByRank(int rank, int first)
    {
        var env = Env((InstanceLayout.MpiRank, $"{rank}"), (InstanceLayout.MpiSize, "2"), (InstanceLayout.MpiLocalRank, $"{rank}"));
        var layout = InstanceLayout.Detect(env, replicas: 4, ipusPerReplica: 2, expectedInstances: 2);
        Assert.That(layout, Is.EqualTo(new InstanceLayout(Launcher.Mpirun, rank, 2, first, 2)));
        Assert.That(layout.IsMultiInstance, Is.True);
        Assert.That(layout.Describe(), Is.EqualTo($"mpirun: instance {rank} of 2, local replicas [{first}, {first + 2})"));
    }

    [Test]
    public void PartialPoprunVariablesNameWhatIsMissingAndWhatIsSet()
    {
        var e = Fails(Env((InstanceLayout.PopdistTotalReplicas, "4"), (InstanceLayout.PopdistIpusPerReplica, "16")), 4, 16);
        Assert.That(e.Variable, Is.EqualTo(InstanceLayout.PopdistLocalReplicas));
        Assert.That(e.Message, Does.Contain("POPDIST_NUM_LOCAL_REPLICAS, POPDIST_REPLICA_INDEX_OFFSET are missing")
            .And.Contain("POPDIST_NUM_TOTAL_REPLICAS=4, POPDIST_NUM_IPUS_PER_REPLICA=16 are set"));
        var onlyHostIndex = Fails(Env((InstanceLayout.PopdistLocalInstanceIndex, "0")), 4, 16);
        Assert.That(onlyHostIndex.Variable, Is.EqualTo(InstanceLayout.PopdistTotalReplicas));
    }

    [Test]
    public void PartialMpirunVariablesAreRefused()
    {
        Assert.That(Fails(Env((InstanceLayout.MpiRank, "0")), 2, 1).Message,
            Does.StartWith("launch: OMPI_COMM_WORLD_SIZE=unset:").And.Contain("OMPI_COMM_WORLD_RANK=0 is set"));
        Assert.That(Fails(Env((InstanceLayout.MpiLocalRank, "0")), 2, 1).Variable, Is.EqualTo(InstanceLayout.MpiRank));
        // poprun's variables with half of Open MPI's.
        Assert.That(Fails(Env([.. Poprun(2, 1, 0, 1), (InstanceLayout.MpiSize, "2")]), 2, 1, 2).Variable, Is.EqualTo(InstanceLayout.MpiRank));
    }

    [TestCase("two")]
    [TestCase("-1")]
    [TestCase("0")]
    [TestCase("1.5")]
    [TestCase("")]
    public void ANonNumberOrOutOfRangeValueIsNamed(string value)
    {
        var e = Fails(Env((InstanceLayout.MpiRank, "0"), (InstanceLayout.MpiSize, value)), 2, 1);
        Assert.That(e.Message, Is.EqualTo($"launch: OMPI_COMM_WORLD_SIZE={value}: expected a whole number >= 1"));
    }

    [Test]
    public void PoprunTotalsMustMatchThePlan()
    {
        var replicas = Fails(Env(Poprun(8, 2, 0, 16)), replicas: 4, ipusPerReplica: 16);
        Assert.That(replicas.Message, Is.EqualTo("launch: POPDIST_NUM_TOTAL_REPLICAS=8: expected the plan's 4 replica(s) " +
                                                 "(execution.data_parallel); poprun --num-replicas must match it"));
        var ipus = Fails(Env(Poprun(4, 1, 0, 1)), replicas: 4, ipusPerReplica: 16, instances: 4);
        Assert.That(ipus.Variable, Is.EqualTo(InstanceLayout.PopdistIpusPerReplica));
        Assert.That(ipus.Message, Does.Contain("POPDIST_NUM_IPUS_PER_REPLICA=1: expected the plan's 16 IPU(s) per replica"));
    }

    [Test]
    public void PoprunReplicasMustDivideEvenlyAndTheOffsetMustStartAnInstance()
    {
        Assert.That(Fails(Env(Poprun(4, 3, 0, 1)), 4, 1).Message,
            Does.StartWith("launch: POPDIST_NUM_LOCAL_REPLICAS=3: expected a divisor of POPDIST_NUM_TOTAL_REPLICAS=4"));
        Assert.That(Fails(Env(Poprun(4, 2, 1, 1)), 4, 1, 2).Variable, Is.EqualTo(InstanceLayout.PopdistReplicaOffset));
        Assert.That(Fails(Env(Poprun(4, 2, 4, 1)), 4, 1, 2).Variable, Is.EqualTo(InstanceLayout.PopdistReplicaOffset));
        Assert.That(Fails(Env([.. Poprun(4, 2, 0, 1), (InstanceLayout.PopdistUniformReplicas, "0")]), 4, 1, 2).Variable,
            Is.EqualTo(InstanceLayout.PopdistUniformReplicas));
    }

    [Test]
    public void PoprunAndItsMpirunMustAgree()
    {
        var size = Fails(Env([.. Poprun(4, 2, 2, 1), (InstanceLayout.MpiRank, "1"), (InstanceLayout.MpiSize, "4")]), 4, 1, 2);
        Assert.That(size.Message, Is.EqualTo("launch: OMPI_COMM_WORLD_SIZE=4: expected 2 instance(s), " +
                                             "POPDIST_NUM_TOTAL_REPLICAS=4 / POPDIST_NUM_LOCAL_REPLICAS=2"));
        var rank = Fails(Env([.. Poprun(4, 2, 2, 1), (InstanceLayout.MpiRank, "0"), (InstanceLayout.MpiSize, "2")]), 4, 1, 2);
        Assert.That(rank.Variable, Is.EqualTo(InstanceLayout.MpiRank));
        var host = Fails(Env([.. Poprun(4, 2, 2, 1), (InstanceLayout.PopdistLocalInstanceIndex, "1"), (InstanceLayout.MpiLocalRank, "0"),
            (InstanceLayout.MpiRank, "1"), (InstanceLayout.MpiSize, "2")]), 4, 1, 2);
        Assert.That(host.Variable, Is.EqualTo(InstanceLayout.MpiLocalRank));
        Assert.That(Fails(Env([.. Poprun(4, 2, 2, 1), (InstanceLayout.PopdistLocalInstanceIndex, "2")]), 4, 1, 2).Variable,
            Is.EqualTo(InstanceLayout.PopdistLocalInstanceIndex));
    }

    [Test]
    public void MpirunRankAndSizeMustFitThePlan()
    {
        var odd = Fails(Env((InstanceLayout.MpiRank, "0"), (InstanceLayout.MpiSize, "3")), replicas: 4, ipusPerReplica: 1, instances: 3);
        Assert.That(odd.Message, Is.EqualTo("launch: OMPI_COMM_WORLD_SIZE=3: expected a divisor of the plan's 4 replica(s) " +
                                            "(execution.data_parallel): the replicas must divide evenly across instances"));
        Assert.That(Fails(Env((InstanceLayout.MpiRank, "2"), (InstanceLayout.MpiSize, "2")), 4, 1, 2).Message,
            Is.EqualTo("launch: OMPI_COMM_WORLD_RANK=2: expected a rank below OMPI_COMM_WORLD_SIZE=2"));
        Assert.That(Fails(Env((InstanceLayout.MpiRank, "0"), (InstanceLayout.MpiSize, "2"), (InstanceLayout.MpiLocalRank, "1")), 4, 1, 2).Variable,
            Is.EqualTo(InstanceLayout.MpiLocalRank));
    }

    [Test]
    public void TheInstanceCountMustBeTheOneTheConfigPlansFor()
    {
        var launched = Fails(Env((InstanceLayout.MpiRank, "0"), (InstanceLayout.MpiSize, "2")), replicas: 2, ipusPerReplica: 1, instances: 1);
        Assert.That(launched.Message, Does.StartWith("launch: OMPI_COMM_WORLD_SIZE=2: the launch has 2 instance(s) but execution.instances is 1"));
        var alone = Fails(Env(), replicas: 4, ipusPerReplica: 16, instances: 4);
        Assert.That(alone.Message, Does.Contain("the launch has 1 instance(s) but execution.instances is 4")
            .And.Contain("mpirun -np 4, or poprun --num-instances 4"));
    }
}
