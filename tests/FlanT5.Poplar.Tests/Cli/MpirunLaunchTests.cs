using FlanT5.Poplar.Tests.Packaging;

namespace FlanT5.Poplar.Tests.Cli;

/// <summary>
/// The built flant5 under a real Open MPI <c>mpirun -np 2</c> (installed by <c>build.ps1 bootstrap</c>): each process
/// finds its own rank in what mpirun really sets (evaluate and finetune across instances: <see cref="MpirunEvaluateTests"/>,
/// <see cref="MpirunFinetuneTests"/>).
/// </summary>
[NonParallelizable] // times its child processes, or builds in the repository: alone
public class MpirunLaunchTests
{
    private static readonly string[] TwoInstances =
        ["--set", "execution.data_parallel=2", "--set", "execution.micro_batch_size=16", "--set", "execution.instances=2"];

    private static ChildProcess.Result Mpirun(params string[] flant5Args) =>
        Cli.Mpirun.Run(["-np", "2", .. Cli.Mpirun.Flant5(flant5Args)], TimeSpan.FromSeconds(120));

    [Test]
    public void EachProcessPrintsItsOwnInstanceAndReplicas()
    {
        var result = Mpirun(["config", "show", .. TwoInstances]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe("mpirun flant5 config show"));
        var launches = result.Output.Split('\n').Where(l => l.StartsWith("# launch:", StringComparison.Ordinal)).Order().ToArray();
        Assert.That(launches, Is.EqualTo(new[]
        {
            "# launch: mpirun: instance 0 of 2, local replicas [0, 1)",
            "# launch: mpirun: instance 1 of 2, local replicas [1, 2)",
        }));
    }

}
