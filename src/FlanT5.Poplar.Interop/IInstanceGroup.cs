namespace FlanT5.Poplar.Interop;

/// <summary>
/// The instances (host processes) of one run and the exchange between them: this one's <see cref="Index"/> among
/// <see cref="Count"/>, and an all-gather of byte blobs. <see cref="OneInstance"/> is a run of one process;
/// <see cref="HostInstances"/> are the processes of an mpirun or poprun launch.
/// </summary>
public interface IInstanceGroup
{
    int Index { get; }

    int Count { get; }

    /// <summary>Every instance gives its blob (any length); every instance gets all of them, in instance order.</summary>
    IReadOnlyList<byte[]> AllGather(ReadOnlySpan<byte> mine);
}

/// <summary>A run of one process: instance 0 of 1, whose gather returns its own blob.</summary>
public sealed class OneInstance : IInstanceGroup
{
    public int Index => 0;

    public int Count => 1;

    public IReadOnlyList<byte[]> AllGather(ReadOnlySpan<byte> mine) => [mine.ToArray()];
}
