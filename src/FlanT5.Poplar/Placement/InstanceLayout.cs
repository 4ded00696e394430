using System.Globalization;

namespace FlanT5.Poplar.Placement;

/// <summary>What started this process: one of several instances of a run, or the run alone.</summary>
public enum Launcher
{
    /// <summary>No launcher's variables: one instance drives every replica.</summary>
    None,
    /// <summary>Graphcore's poprun (POPDIST_* variables; it starts Open MPI's mpirun underneath).</summary>
    Poprun,
    /// <summary>Open MPI's mpirun alone (OMPI_COMM_WORLD_* variables).</summary>
    Mpirun,
}

/// <summary>
/// Which instance (host process) of a run this is and which replicas it drives: replicas
/// [<see cref="FirstReplica"/>, <see cref="FirstReplica"/> + <see cref="LocalReplicas"/>) of the plan, as the SDK's
/// firstRuntimeReplica / numberRuntimeReplica. <see cref="Detect"/> reads it from the launcher's environment and
/// checks it against the plan; every instance builds the global graph and runs only its own replicas.
/// </summary>
public sealed record InstanceLayout(Launcher Launcher, int InstanceIndex, int InstanceCount, int FirstReplica, int LocalReplicas)
{
    // poprun's variables (PopRun user guide, PopDist API): replicas of the whole run, of this instance, the global
    // index of this instance's first replica, IPUs per replica, the index of this instance among those on its host.
    public const string PopdistTotalReplicas = "POPDIST_NUM_TOTAL_REPLICAS";
    public const string PopdistLocalReplicas = "POPDIST_NUM_LOCAL_REPLICAS";
    public const string PopdistReplicaOffset = "POPDIST_REPLICA_INDEX_OFFSET";
    public const string PopdistIpusPerReplica = "POPDIST_NUM_IPUS_PER_REPLICA";
    public const string PopdistLocalInstanceIndex = "POPDIST_LOCAL_INSTANCE_INDEX";
    /// <summary>"1" when every instance has the same number of replicas; popdist derives the instance count only then.</summary>
    public const string PopdistUniformReplicas = "POPDIST_UNIFORM_REPLICAS_PER_INSTANCE";

    // Open MPI's: this process's rank among all, their number, its rank among those on its node.
    public const string MpiRank = "OMPI_COMM_WORLD_RANK";
    public const string MpiSize = "OMPI_COMM_WORLD_SIZE";
    public const string MpiLocalRank = "OMPI_COMM_WORLD_LOCAL_RANK";

    private static readonly string[] PopdistRequired = [PopdistTotalReplicas, PopdistLocalReplicas, PopdistReplicaOffset, PopdistIpusPerReplica];
    private static readonly string[] PopdistAll = [.. PopdistRequired, PopdistLocalInstanceIndex, PopdistUniformReplicas];
    private static readonly string[] MpiRequired = [MpiRank, MpiSize];

    /// <summary>One instance driving all <paramref name="replicas"/> replicas.</summary>
    public static InstanceLayout Single(int replicas) => new(Launcher.None, 0, 1, 0, replicas);

    public bool IsMultiInstance => InstanceCount > 1;

    /// <summary>
    /// The layout the launcher's variables describe, checked against a plan of <paramref name="replicas"/> replicas of
    /// <paramref name="ipusPerReplica"/> IPUs each and the <paramref name="expectedInstances"/> the config plans for
    /// (execution.instances). <paramref name="environment"/> returns a variable's value or null when it is unset
    /// (the process's environment: <see cref="Environment.GetEnvironmentVariable(string)"/>). Throws
    /// <see cref="InvalidLaunchException"/> naming the variable, its value and what was expected.
    /// </summary>
    public static InstanceLayout Detect(Func<string, string?> environment, int replicas, int ipusPerReplica, int expectedInstances = 1)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ipusPerReplica, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedInstances, 1);
        var layout = PopdistAll.Any(name => environment(name) is not null) ? FromPoprun(environment, replicas, ipusPerReplica)
            : new[] { MpiRank, MpiSize, MpiLocalRank }.Any(name => environment(name) is not null) ? FromMpirun(environment, replicas)
            : Single(replicas);

        if (layout.InstanceCount != expectedInstances)
        {
            var (name, value) = layout.Launcher switch
            {
                Launcher.Poprun => (PopdistLocalReplicas, environment(PopdistLocalReplicas)!),
                Launcher.Mpirun => (MpiSize, environment(MpiSize)!),
                _ => (MpiSize, "unset"),
            };
            throw new InvalidLaunchException(name, value,
                $"the launch has {layout.InstanceCount} instance(s) but execution.instances is {expectedInstances}; " +
                $"set execution.instances: {layout.InstanceCount}, or launch {expectedInstances} instances " +
                $"(mpirun -np {expectedInstances}, or poprun --num-instances {expectedInstances})");
        }
        return layout;
    }

    private static InstanceLayout FromPoprun(Func<string, string?> environment, int replicas, int ipusPerReplica)
    {
        RequireAll(environment, PopdistRequired, "poprun");
        var total = Whole(environment, PopdistTotalReplicas, minimum: 1);
        var local = Whole(environment, PopdistLocalReplicas, minimum: 1);
        var offset = Whole(environment, PopdistReplicaOffset, minimum: 0);
        var ipus = Whole(environment, PopdistIpusPerReplica, minimum: 1);
        if (environment(PopdistUniformReplicas) is { } uniform && uniform.Trim() != "1")
            throw new InvalidLaunchException(PopdistUniformReplicas, uniform,
                "expected 1: every instance must drive the same number of replicas");
        if (total != replicas)
            throw new InvalidLaunchException(PopdistTotalReplicas, total.ToString(CultureInfo.InvariantCulture),
                $"expected the plan's {replicas} replica(s) (execution.data_parallel); poprun --num-replicas must match it");
        if (ipus != ipusPerReplica)
            throw new InvalidLaunchException(PopdistIpusPerReplica, ipus.ToString(CultureInfo.InvariantCulture),
                $"expected the plan's {ipusPerReplica} IPU(s) per replica (execution.tensor_parallel × execution.pipeline_stages); " +
                "poprun --ipus-per-replica must match it");
        if (total % local != 0)
            throw new InvalidLaunchException(PopdistLocalReplicas, local.ToString(CultureInfo.InvariantCulture),
                $"expected a divisor of {PopdistTotalReplicas}={total}: the replicas must divide evenly across instances");
        if (offset % local != 0 || offset + local > total)
            throw new InvalidLaunchException(PopdistReplicaOffset, offset.ToString(CultureInfo.InvariantCulture),
                $"expected a multiple of {PopdistLocalReplicas}={local} below {PopdistTotalReplicas}={total}");
        var count = total / local;
        var index = offset / local;
        // poprun starts mpirun underneath: where Open MPI's variables are there too, they must tell the same story.
        if (environment(MpiSize) is not null || environment(MpiRank) is not null)
        {
            RequireAll(environment, MpiRequired, "mpirun (started by poprun)");
            if (Whole(environment, MpiSize, minimum: 1) != count)
                throw new InvalidLaunchException(MpiSize, environment(MpiSize)!,
                    $"expected {count} instance(s), {PopdistTotalReplicas}={total} / {PopdistLocalReplicas}={local}");
            if (Whole(environment, MpiRank, minimum: 0) != index)
                throw new InvalidLaunchException(MpiRank, environment(MpiRank)!,
                    $"expected instance {index}, {PopdistReplicaOffset}={offset} / {PopdistLocalReplicas}={local}");
        }
        if (environment(PopdistLocalInstanceIndex) is not null)
        {
            var onHost = Whole(environment, PopdistLocalInstanceIndex, minimum: 0);
            if (onHost >= count)
                throw new InvalidLaunchException(PopdistLocalInstanceIndex, onHost.ToString(CultureInfo.InvariantCulture),
                    $"expected an index below the {count} instance(s)");
            if (environment(MpiLocalRank) is not null && Whole(environment, MpiLocalRank, minimum: 0) != onHost)
                throw new InvalidLaunchException(MpiLocalRank, environment(MpiLocalRank)!,
                    $"expected {onHost}, the same as {PopdistLocalInstanceIndex}");
        }
        return new InstanceLayout(Launcher.Poprun, index, count, offset, local);
    }

    private static InstanceLayout FromMpirun(Func<string, string?> environment, int replicas)
    {
        RequireAll(environment, MpiRequired, "mpirun");
        var size = Whole(environment, MpiSize, minimum: 1);
        var rank = Whole(environment, MpiRank, minimum: 0);
        if (rank >= size)
            throw new InvalidLaunchException(MpiRank, rank.ToString(CultureInfo.InvariantCulture),
                $"expected a rank below {MpiSize}={size}");
        if (replicas % size != 0)
            throw new InvalidLaunchException(MpiSize, size.ToString(CultureInfo.InvariantCulture),
                $"expected a divisor of the plan's {replicas} replica(s) (execution.data_parallel): the replicas must divide evenly across instances");
        if (environment(MpiLocalRank) is not null)
        {
            var local = Whole(environment, MpiLocalRank, minimum: 0);
            if (local > rank)
                throw new InvalidLaunchException(MpiLocalRank, local.ToString(CultureInfo.InvariantCulture),
                    $"expected at most {MpiRank}={rank}: a rank on this node cannot exceed the rank among all");
        }
        var perInstance = replicas / size;
        return new InstanceLayout(Launcher.Mpirun, rank, size, rank * perInstance, perInstance);
    }

    private static void RequireAll(Func<string, string?> environment, string[] names, string launcher)
    {
        var missing = names.Where(name => environment(name) is null).ToArray();
        if (missing.Length == 0) return;
        var set = PopdistAll.Concat([MpiRank, MpiSize, MpiLocalRank]).Where(name => environment(name) is not null)
            .Select(name => $"{name}={environment(name)}").ToArray();
        throw new InvalidLaunchException(missing[0], "unset",
            $"expected {launcher} to set all of {string.Join(", ", names)}; {string.Join(", ", missing)} " +
            $"{(missing.Length == 1 ? "is" : "are")} missing while {string.Join(", ", set)} {(set.Length == 1 ? "is" : "are")} set " +
            "(a partial launch environment: unset the rest, or start the run with the launcher)");
    }

    private static int Whole(Func<string, string?> environment, string name, int minimum)
    {
        var text = environment(name)!;
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < minimum)
            throw new InvalidLaunchException(name, text, $"expected a whole number >= {minimum}");
        return value;
    }

    /// <summary>"mpirun: instance 1 of 2, local replicas [1, 2)".</summary>
    public string Describe() =>
        $"{LauncherName(Launcher)}: instance {InstanceIndex} of {InstanceCount}, local replicas [{FirstReplica}, {FirstReplica + LocalReplicas})";

    public static string LauncherName(Launcher launcher) => launcher switch
    {
        Launcher.Poprun => "poprun",
        Launcher.Mpirun => "mpirun",
        _ => "none",
    };
}
