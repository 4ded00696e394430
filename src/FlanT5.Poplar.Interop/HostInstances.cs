using System.Buffers.Binary;

namespace FlanT5.Poplar.Interop;

/// <summary>
/// The processes of a run launched by mpirun or poprun, joined over MPI through libft5 (the one MPI of the process,
/// which the emulated engine's cross-instance collectives use too). <see cref="Dispose"/> leaves the run, which every
/// instance must do; after a failure <see cref="Abort"/> ends every instance instead, since the others may be waiting
/// in a collective this one will never reach.
/// </summary>
public sealed unsafe class HostInstances : IInstanceGroup, IDisposable
{
    private readonly uint _timeoutMs;
    private bool _left;

    private HostInstances(int index, int count, uint timeoutMs)
    {
        Index = index;
        Count = count;
        _timeoutMs = timeoutMs;
    }

    public int Index { get; }

    public int Count { get; }

    /// <summary>
    /// Joins the other instances (initialising MPI). Each gather waits at most <paramref name="gatherTimeout"/> for
    /// the slowest instance to reach it, then throws <see cref="TimeoutException"/>;
    /// <see cref="TimeSpan.Zero"/> waits without limit. Fails when libft5 was built without MPI.
    /// </summary>
    public static HostInstances Join(TimeSpan gatherTimeout)
    {
        if (gatherTimeout < TimeSpan.Zero || gatherTimeout.TotalMilliseconds > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(gatherTimeout), gatherTimeout, $"expected 0 to {uint.MaxValue} ms");
        int index, count;
        Ft5Native.Checked.ft5_instances_join(&index, &count);
        return new HostInstances(index, count, (uint)Math.Ceiling(gatherTimeout.TotalMilliseconds));
    }

    public IReadOnlyList<byte[]> AllGather(ReadOnlySpan<byte> mine)
    {
        ObjectDisposedException.ThrowIf(_left, this);
        // Fixed-size blocks over MPI: the lengths first, then every blob padded to the longest.
        Span<byte> length = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(length, mine.Length);
        var lengths = new byte[sizeof(long) * Count];
        Gather(length, lengths);
        var sizes = Enumerable.Range(0, Count)
            .Select(i => BinaryPrimitives.ReadInt64LittleEndian(lengths.AsSpan(i * sizeof(long), sizeof(long)))).ToArray();
        var block = checked((int)sizes.Max());
        var padded = new byte[block];
        mine.CopyTo(padded);
        var all = new byte[checked(block * Count)];
        Gather(padded, all);
        return [.. sizes.Select((size, i) => all.AsSpan(i * block, (int)size).ToArray())];
    }

    private void Gather(ReadOnlySpan<byte> block, Span<byte> all)
    {
        int completed;
        fixed (byte* b = block)
        fixed (byte* a = all)
            Ft5Native.Checked.ft5_instances_all_gather(b, (nuint)block.Length, a, (nuint)all.Length, _timeoutMs, &completed);
        if (completed == 0)
            throw new TimeoutException($"instance {Index} of {Count}: not every instance reached the gather within " +
                $"{_timeoutMs / 1000.0:0.###} s: one has stopped, failed or fallen far behind");
    }

    /// <summary>Ends every instance of the run (MPI_Abort) with <paramref name="exitCode"/>; does not return.</summary>
    public void Abort(int exitCode)
    {
        Ft5Native.ft5_instances_abort(exitCode);
        // Only reached if the launcher let this process live on.
        Environment.Exit(exitCode);
    }

    /// <summary>Leaves the run (collective: every instance does it), finalising MPI.</summary>
    public void Dispose()
    {
        if (_left) return;
        _left = true;
        Ft5Native.Checked.ft5_instances_leave();
    }
}
