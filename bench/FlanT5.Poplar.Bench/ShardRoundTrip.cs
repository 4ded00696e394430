using System.Runtime.InteropServices;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// The HF → tensor-parallel → HF round trip of one tensor: shard, join back into the full tensor, and compare what
/// came back with the original — block by block, so each block is joined and checked while it is still in cache.
/// Blocks: for a tensor sharded on dimension 0 (a rank's slice is contiguous) a run of one rank's rows; for a later
/// shard dimension (a rank's part of a row is short and strided) all ranks of a few outer rows, so the matrix is
/// read once in order rather than once per rank. Blocks write disjoint memory and are spread over the threads.
/// </summary>
internal static unsafe class ShardRoundTrip
{
    /// <summary>Elements' bytes per block: the block, its shard rows and its copy fit the L2 cache.</summary>
    private const int BlockBytes = 64 << 10;

    /// <summary>Below this many elements a tensor is not worth handing to other threads (layer norms).</summary>
    private const int ParallelElements = 1 << 16;

    /// <summary>Elements of scratch each worker needs for its join-back window.</summary>
    public static int WindowElements<T>() where T : unmanaged => 4 * BlockBytes / sizeof(T);

    /// <summary>
    /// Round-trips <paramref name="original"/> through the shards at <paramref name="shards"/> (rank r's shard starts
    /// <paramref name="shardStride"/> elements after rank r-1's) on up to <paramref name="threads"/> threads; each block
    /// is joined back into the worker's window (<see cref="WindowElements{T}"/> elements per worker at
    /// <paramref name="windows"/>) and compared there, then copied on into <paramref name="destination"/> unless that is
    /// empty (the joined tensor is then checked block by block and dropped, as a disk read drops what it read).
    /// </summary>
    public static void Tensor<T>(ParameterSpec spec, int tp, ReadOnlySpan<T> original, IntPtr shards, long shardStride,
        IntPtr windows, Span<T> destination, int threads) where T : unmanaged
    {
        int n = original.Length;
        if (!destination.IsEmpty && destination.Length != n)
            throw new ArgumentException($"'{spec.Name}' has {n} elements; the destination holds {destination.Length}", nameof(destination));
        int shardElements = (int)ShapeMath.ElementCount(TensorParallelSharder.ShardShape(spec, tp));
        long outer = TensorParallelSharder.OuterCount(spec);
        int inner = TensorParallelSharder.RowLength(spec);
        long shardRows = TensorParallelSharder.ShardRowCount(spec, tp);
        // Units of work: (rank or -1 for all ranks, first shard row, shard rows).
        var units = new List<(int Rank, long Row, long Rows)>();
        if (spec.ShardDim < 0)
        {
            units.Add((-1, 0, 1));
        }
        else if (outer == 1)
        {
            long rows = Math.Max(1, BlockBytes / (sizeof(T) * (long)inner));
            for (int rank = 0; rank < tp; rank++)
                for (long row = 0; row < shardRows; row += rows) units.Add((rank, row, Math.Min(rows, shardRows - row)));
        }
        else
        {
            long perRank = shardRows / outer;
            long outerRows = Math.Max(1, BlockBytes / (sizeof(T) * (long)n / outer));
            for (long o = 0; o < outer; o += outerRows) units.Add((-1, o * perRank, Math.Min(outerRows, outer - o) * perRank));
        }
        int workers = n < ParallelElements ? 1 : Math.Min(threads, units.Count);
        fixed (T* source = original)
        fixed (T* target = destination)
        {
            // The buffers stay put (pinned or native) while the workers run, so their addresses can cross into them.
            nint from = (nint)source, to = (nint)target;
            int targetLength = destination.Length;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
            {
                var full = new ReadOnlySpan<T>((void*)from, n);
                var window = new Span<T>((T*)windows + (long)worker * WindowElements<T>(), WindowElements<T>());
                Span<T> Shard(int rank) => new((T*)shards + rank * shardStride, shardElements);
                for (int u = units.Count * worker / workers; u < units.Count * (worker + 1) / workers; u++)
                {
                    var (rank, row, rows) = units[u];
                    var (start, length) = Region(spec, tp, rank, row, rows, n);
                    if (length > window.Length)
                        throw new InvalidOperationException($"'{spec.Name}': a block of {length} elements exceeds the {window.Length}-element join-back window");
                    var back = window[..length];
                    for (int r = rank < 0 ? 0 : rank; r <= (rank < 0 ? tp - 1 : rank); r++)
                        TensorParallelSharder.Shard(spec, tp, full, r, Shard(r), row, rows);
                    for (int r = rank < 0 ? 0 : rank; r <= (rank < 0 ? tp - 1 : rank); r++)
                        TensorParallelSharder.UnshardIntoWindow<T>(spec, tp, r, Shard(r), back, start, row, rows);
                    if (!MemoryMarshal.AsBytes(back).SequenceEqual(MemoryMarshal.AsBytes(full.Slice(start, length))))
                        throw new InvalidDataException($"'{spec.Name}' changed in the round trip through TP{tp} ({(rank < 0 ? "all ranks" : $"rank {rank}")}, shard rows {row}..{row + rows - 1})");
                    if (targetLength > 0) back.CopyTo(new Span<T>((T*)to + start, length));
                }
            });
        }
    }

    /// <summary>The contiguous elements of the full tensor that a unit's shard rows come from and go back to
    /// (padding rows excluded).</summary>
    private static (int Start, int Length) Region(ParameterSpec spec, int tp, int rank, long row, long rows, int n)
    {
        if (spec.ShardDim < 0) return (0, n);
        if (rank >= 0)
        {
            // One rank's rows of a single-outer tensor: rows [first + row, first + row + rows) of the shard dimension.
            int inner = TensorParallelSharder.RowLength(spec);
            int dim = spec.Shape[spec.ShardDim];
            int first = rank * (TensorParallelSharder.PaddedDim(spec, tp) / tp) + (int)row;
            return (Math.Min(first, dim) * inner, Math.Clamp(dim - first, 0, (int)rows) * inner);
        }
        // All ranks of whole outer rows.
        long outer = TensorParallelSharder.OuterCount(spec);
        long perRank = TensorParallelSharder.ShardRowCount(spec, tp) / outer;
        int outerLength = (int)(n / outer);
        return ((int)(row / perRank * outerLength), (int)(rows / perRank * outerLength));
    }
}
