using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
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
    /// Round-trips a piece of a tensor — <paramref name="piece"/> holds its elements from <paramref name="pieceStart"/>
    /// on, whole dimension-0 rows (the whole tensor when small) — through the shards at <paramref name="shards"/> (rank
    /// r's whole shard starts <paramref name="shardStride"/> elements after rank r-1's) on up to <paramref name="threads"/>
    /// threads. Each block is joined back into the worker's window (<see cref="WindowElements{T}"/> elements per worker
    /// at <paramref name="windows"/>) and compared there, then copied on into <paramref name="destination"/> (the whole
    /// tensor) unless that is empty: the joined tensor is then checked block by block and dropped.
    /// </summary>
    public static void Piece<T>(ParameterSpec spec, int tp, ReadOnlySpan<T> piece, long pieceStart, IntPtr shards, long shardStride,
        IntPtr windows, Span<T> destination, int threads) where T : unmanaged
    {
        long n = spec.ElementCount;
        if (!destination.IsEmpty && destination.Length != n)
            throw new ArgumentException($"'{spec.Name}' has {n} elements; the destination holds {destination.Length}", nameof(destination));
        long rowElements = spec.Shape.Length == 0 || spec.Shape[0] == 0 ? n : n / spec.Shape[0];
        if (pieceStart % rowElements != 0 || piece.Length % rowElements != 0)
            throw new ArgumentException($"'{spec.Name}': a piece must hold whole dimension-0 rows of {rowElements} elements");
        long firstRow = pieceStart / rowElements, endRow = firstRow + piece.Length / rowElements;
        bool last = endRow * rowElements == n;
        int shardElements = (int)ShapeMath.ElementCount(TensorParallelSharder.ShardShape(spec, tp));
        long outer = TensorParallelSharder.OuterCount(spec);
        int inner = TensorParallelSharder.RowLength(spec);
        long shardRows = TensorParallelSharder.ShardRowCount(spec, tp);
        // Units of work: (rank or -1 for all ranks, first shard row, shard rows).
        var units = new List<(int Rank, long Row, long Rows)>();
        if (spec.ShardDim < 0)
        {
            if (pieceStart != 0 || !last) throw new ArgumentException($"'{spec.Name}' is replicated and must arrive whole");
            units.Add((-1, 0, 1));
        }
        else if (spec.ShardDim == 0)
        {
            // Rank r holds dimension-0 rows [first, first + valid) as its shard rows [0, valid), then padding rows
            // (zeroed with the last piece).
            int dim = spec.Shape[0], perRank = (int)shardRows;
            long block = Math.Max(1, BlockBytes / (sizeof(T) * (long)inner));
            for (int rank = 0; rank < tp; rank++)
            {
                int first = rank * perRank, valid = Math.Clamp(dim - first, 0, perRank);
                long from = Math.Clamp(firstRow - first, 0, valid), to = Math.Clamp(endRow - first, 0, valid);
                if (last) to = perRank;
                for (long row = from; row < to; row += block) units.Add((rank, row, Math.Min(block, to - row)));
            }
        }
        else
        {
            // Outer rows of this piece; all ranks of a few at a time.
            long perRank = shardRows / outer, outerPerRow = outer / spec.Shape[0];
            long outerRows = Math.Max(1, BlockBytes / (sizeof(T) * (long)n / outer));
            for (long o = firstRow * outerPerRow; o < endRow * outerPerRow; o += outerRows)
                units.Add((-1, o * perRank, Math.Min(outerRows, endRow * outerPerRow - o) * perRank));
        }
        int workers = piece.Length < ParallelElements ? 1 : Math.Max(1, Math.Min(threads, units.Count));
        // Many more chunks than workers: Parallel.For lets the calling thread take whatever chunks a pool thread has
        // not yet woken up for, so two chunks would often both run on the caller.
        int chunks = Math.Min(units.Count, 16 * workers);
        var freeWindows = new ConcurrentStack<int>(Enumerable.Range(0, workers));
        fixed (T* source = piece)
        fixed (T* target = destination)
        {
            // The buffers stay put (pinned or native) while the workers run, so their addresses can cross into them.
            nint from = (nint)source, to = (nint)target;
            int pieceLength = piece.Length;
            bool keep = !destination.IsEmpty;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers },
                () => freeWindows.TryPop(out int slot) ? slot : throw new InvalidOperationException("more workers than join-back windows"),
                [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk, _, slot) =>
                {
                    var window = new ReadOnlySpan<T>((void*)from, pieceLength);
                    var back = new Span<T>((T*)windows + (long)slot * WindowElements<T>(), WindowElements<T>());
                    Span<T> Shard(int rank) => new((T*)shards + rank * shardStride, shardElements);
                    for (int u = units.Count * chunk / chunks; u < units.Count * (chunk + 1) / chunks; u++)
                    {
                        var (rank, row, rows) = units[u];
                        var (start, length) = Region(spec, tp, rank, row, rows, (int)n);
                        if (length > back.Length)
                            throw new InvalidOperationException($"'{spec.Name}': a block of {length} elements exceeds the {back.Length}-element join-back window");
                        var joined = back[..length];
                        for (int r = rank < 0 ? 0 : rank; r <= (rank < 0 ? tp - 1 : rank); r++)
                            TensorParallelSharder.ShardFromWindow(spec, tp, window, pieceStart, r, Shard(r), row, rows);
                        for (int r = rank < 0 ? 0 : rank; r <= (rank < 0 ? tp - 1 : rank); r++)
                            TensorParallelSharder.UnshardIntoWindow<T>(spec, tp, r, Shard(r), joined, start, row, rows);
                        var read = window.Slice((int)(start - pieceStart), length);
                        if (!MemoryMarshal.AsBytes(joined).SequenceEqual(MemoryMarshal.AsBytes(read)))
                            throw new InvalidDataException($"'{spec.Name}' changed in the round trip through TP{tp} ({(rank < 0 ? "all ranks" : $"rank {rank}")}, shard rows {row}..{row + rows - 1})");
                        if (keep) joined.CopyTo(new Span<T>((T*)to + start, length));
                    }
                    return slot;
                },
                slot => freeWindows.Push(slot));
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
