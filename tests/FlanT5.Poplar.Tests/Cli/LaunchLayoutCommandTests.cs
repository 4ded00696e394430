using FlanT5.Poplar.Cli;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// What the commands make of the launcher's variables (given to the commands in place of the process's environment):
/// config show prints the layout, and the commands that run refuse a launch that contradicts the config. (evaluate and
/// finetune run across instances, over MPI: <see cref="MpirunEvaluateTests"/> and <see cref="MpirunFinetuneTests"/> run
/// them under a real mpirun.)
/// </summary>
public class LaunchLayoutCommandTests
{
    private static CliRunner.Result Run(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        CliRunner.Run(Program.CreateCommands(environment: name => environment.GetValueOrDefault(name)), CancellationToken.None, args);

    private static readonly Dictionary<string, string> NoLauncher = [];

    private static Dictionary<string, string> Mpirun(int rank, int size) => new()
    {
        [InstanceLayout.MpiRank] = $"{rank}", [InstanceLayout.MpiSize] = $"{size}", [InstanceLayout.MpiLocalRank] = $"{rank}",
    };

    // The tiny preset with 2 replicas of 16 samples: 2 instances can split them.
    private static readonly string[] TwoReplicas =
        ["--set", "execution.data_parallel=2", "--set", "execution.micro_batch_size=16", "--set", "execution.instances=2"];

    [Test]
    public void ShowPrintsOneInstanceWithoutALauncher()
    {
        var result = Run(NoLauncher, "config", "show");
        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Output, Does.Contain("\n# launch: none: instance 0 of 1, local replicas [0, 1)\n"));
        Assert.That(result.Output, Does.Contain("\n  instances: 1\n").And.Contain("#   replicas_per_instance: 1"));
    }

    [Test]
    public void ShowPrintsTheInstanceAndItsReplicasUnderMpirun()
    {
        var result = Run(Mpirun(1, 2), ["config", "show", .. TwoReplicas]);
        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Output, Does.Contain("\n# launch: mpirun: instance 1 of 2, local replicas [1, 2)\n"));
    }

    [Test]
    public void ShowPrintsThePod64PresetUnderPoprun()
    {
        var poprun = new Dictionary<string, string>
        {
            [InstanceLayout.PopdistTotalReplicas] = "4", [InstanceLayout.PopdistLocalReplicas] = "1",
            [InstanceLayout.PopdistReplicaOffset] = "2", [InstanceLayout.PopdistIpusPerReplica] = "16",
            [InstanceLayout.PopdistLocalInstanceIndex] = "0", [InstanceLayout.MpiRank] = "2", [InstanceLayout.MpiSize] = "4",
        };
        var result = Run(poprun, "config", "show", "--preset", "xxl-pod64");
        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Output, Does.Contain("\n# launch: poprun: instance 2 of 4, local replicas [2, 3)\n"));
    }

    [Test]
    public void ShowPrintsWhatIsWrongWithTheLaunch()
    {
        var result = Run(Mpirun(0, 2), "config", "show");
        Assert.That(result.ExitCode, Is.Zero, "show describes; the commands that run refuse");
        Assert.That(result.Output, Does.Contain(
            "\n# launch: error: launch: OMPI_COMM_WORLD_SIZE=2: expected a divisor of the plan's 1 replica(s) (execution.data_parallel)"));
    }

    [Test]
    public void RunningCommandsRefuseALaunchThatContradictsTheConfig()
    {
        var result = Run(Mpirun(0, 2), "finetune", "--set", "execution.data_parallel=2", "--set", "execution.micro_batch_size=16");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Error, Does.StartWith("error: launch: OMPI_COMM_WORLD_SIZE=2: the launch has 2 instance(s) but execution.instances is 1"));
    }
}
