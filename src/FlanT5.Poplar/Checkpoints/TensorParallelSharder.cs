using System.Runtime.CompilerServices;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// Splits a parameter (HF shape) into the per-rank shards of the device layout and joins them back, on the host.
/// Each rank holds a contiguous slice along <see cref="ParameterSpec.ShardDim"/>; replicated parameters
/// (shard dim -1) are copied whole. Padding rule: the vocabulary of embeddings and lm_head is zero-padded to
/// <see cref="PaddedDim"/> = tp·ceil(V/tp) rows, the smallest multiple of tp (so tp 1 leaves the HF tensor
/// unchanged; the reference implementation's 16-row alignment is not applied). Other sharded dimensions
/// (heads, d_ff) must divide by tp.
/// </summary>
public static class TensorParallelSharder
{
    /// <summary>Size of the shard dimension after padding, summed over all ranks.</summary>
    public static int PaddedDim(ParameterSpec spec, int tp)
    {
        CheckDegree(tp);
        if (spec.ShardDim < 0) return -1;
        int dim = spec.Shape[spec.ShardDim];
        if (spec.IsVocabSharded) return checked((dim + tp - 1) / tp * tp);
        if (dim % tp != 0)
            throw new ArgumentException($"'{spec.Name}' dimension {spec.ShardDim} ({dim}) does not divide by tensor-parallel degree {tp}");
        return dim;
    }

    /// <summary>The shape one rank holds.</summary>
    public static int[] ShardShape(ParameterSpec spec, int tp)
    {
        var shape = (int[])spec.Shape.Clone();
        if (spec.ShardDim >= 0) shape[spec.ShardDim] = PaddedDim(spec, tp) / tp;
        return shape;
    }

    /// <summary>Throws unless every parameter of <paramref name="map"/> shards evenly at degree <paramref name="tp"/>.</summary>
    public static void Validate(HfParameterMap map, int tp)
    {
        foreach (var spec in map.Parameters) PaddedDim(spec, tp);
    }

    /// <summary>Writes rank <paramref name="rank"/>'s shard of <paramref name="full"/> (padding rows are zero). Any element
    /// type: the layout does not depend on it, so bf16 checkpoints can be sharded without widening.</summary>
    public static void Shard<T>(ParameterSpec spec, int tp, ReadOnlySpan<T> full, int rank, Span<T> shard) where T : unmanaged
    {
        var g = Geometry(spec, tp, rank, full.Length, shard.Length);
        ShardRows(g, full, 0, shard, 0, g.ShardRows);
    }

    /// <summary>
    /// Like <see cref="Shard{T}(ParameterSpec, int, ReadOnlySpan{T}, int, Span{T})"/>, for shard rows
    /// [<paramref name="rowStart"/>, <paramref name="rowStart"/> + <paramref name="rowCount"/>) only — the shard seen as
    /// <see cref="ShardRowCount"/> rows of <see cref="RowLength"/> elements (the dimensions after the shard dimension).
    /// A large tensor can then be converted block by block: shard, join back and check a block while it is in cache,
    /// blocks on any thread (they write disjoint memory), instead of a pass over the whole matrix per step and rank.
    /// </summary>
    public static void Shard<T>(ParameterSpec spec, int tp, ReadOnlySpan<T> full, int rank, Span<T> shard, long rowStart, long rowCount)
        where T : unmanaged
    {
        var g = Geometry(spec, tp, rank, full.Length, shard.Length);
        CheckRows(spec, g, rowStart, rowCount);
        ShardRows(g, full, 0, shard, rowStart, rowCount);
    }

    /// <summary>
    /// Like the ranged <c>Shard</c>, from a window of the full tensor: <paramref name="window"/> holds elements
    /// [<paramref name="windowStart"/>, <paramref name="windowStart"/> + window.Length) and must cover every element
    /// the rows come from — so a tensor can be sharded piece by piece as it is read.
    /// </summary>
    public static void ShardFromWindow<T>(ParameterSpec spec, int tp, ReadOnlySpan<T> window, long windowStart, int rank, Span<T> shard,
        long rowStart, long rowCount) where T : unmanaged
    {
        var g = Geometry(spec, tp, rank, checked((int)spec.ElementCount), shard.Length);
        CheckRows(spec, g, rowStart, rowCount);
        CheckWindow(spec, windowStart, window.Length);
        ShardRows(g, window, windowStart, shard, rowStart, rowCount);
    }

    /// <summary>Copies rank <paramref name="rank"/>'s shard back into <paramref name="full"/>, dropping padding rows.</summary>
    public static void Unshard<T>(ParameterSpec spec, int tp, int rank, ReadOnlySpan<T> shard, Span<T> full) where T : unmanaged
    {
        var g = Geometry(spec, tp, rank, full.Length, shard.Length);
        UnshardRows(g, shard, full, 0, 0, g.ShardRows);
    }

    /// <summary>Like <see cref="Unshard{T}(ParameterSpec, int, int, ReadOnlySpan{T}, Span{T})"/>, for shard rows
    /// [<paramref name="rowStart"/>, <paramref name="rowStart"/> + <paramref name="rowCount"/>) only.</summary>
    public static void Unshard<T>(ParameterSpec spec, int tp, int rank, ReadOnlySpan<T> shard, Span<T> full, long rowStart, long rowCount)
        where T : unmanaged
    {
        var g = Geometry(spec, tp, rank, full.Length, shard.Length);
        CheckRows(spec, g, rowStart, rowCount);
        UnshardRows(g, shard, full, 0, rowStart, rowCount);
    }

    /// <summary>
    /// Like the ranged <c>Unshard</c>, into a window of the full tensor: <paramref name="window"/> holds elements
    /// [<paramref name="windowStart"/>, <paramref name="windowStart"/> + window.Length) and must cover every element
    /// the rows go to — so a tensor can be joined back block by block into a small reused buffer.
    /// </summary>
    public static void UnshardIntoWindow<T>(ParameterSpec spec, int tp, int rank, ReadOnlySpan<T> shard, Span<T> window, long windowStart,
        long rowStart, long rowCount) where T : unmanaged
    {
        var g = Geometry(spec, tp, rank, checked((int)spec.ElementCount), shard.Length);
        CheckRows(spec, g, rowStart, rowCount);
        CheckWindow(spec, windowStart, window.Length);
        UnshardRows(g, shard, window, windowStart, rowStart, rowCount);
    }

    /// <summary>Rows of one rank's shard: outer indices (dimensions before the shard dimension) × the rank's share of
    /// the shard dimension; 1 for a replicated parameter.</summary>
    public static long ShardRowCount(ParameterSpec spec, int tp) => spec.ShardDim < 0 ? 1 : OuterCount(spec) * (PaddedDim(spec, tp) / tp);

    /// <summary>Elements per shard row (the dimensions after the shard dimension; all of them when replicated).</summary>
    public static int RowLength(ParameterSpec spec) =>
        spec.ShardDim < 0 ? checked((int)spec.ElementCount) : checked((int)ShapeMath.ElementCount(spec.Shape.AsSpan(spec.ShardDim + 1)));

    /// <summary>Outer indices: the product of the dimensions before the shard dimension (1 when replicated).</summary>
    public static long OuterCount(ParameterSpec spec) =>
        spec.ShardDim < 0 ? 1 : ShapeMath.ElementCount(spec.Shape.AsSpan(0, spec.ShardDim));

    /// <summary>Shard rows in runs that stay inside one outer index: each run is one contiguous copy.
    /// <paramref name="full"/> holds the tensor's elements from <paramref name="fullStart"/> on.</summary>
    // Hot loops of a whole-checkpoint conversion, run a few hundred thousand times within a second or two: compiled
    // optimised at once rather than starting in tier-0 code and waiting for tiered compilation to catch up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShardRows<T>(in ShardGeometry g, ReadOnlySpan<T> full, long fullStart, Span<T> shard, long rowStart, long rowCount)
        where T : unmanaged
    {
        for (long row = rowStart, end = rowStart + rowCount; row < end;)
        {
            long o = row / g.PerRank;
            int j = (int)(row - o * g.PerRank);
            int run = (int)Math.Min(end - row, g.PerRank - j);
            int copied = Math.Clamp(g.Valid - j, 0, run); // rows past the real dimension are padding
            var dst = shard.Slice(checked((int)(row * g.Inner)), run * g.Inner);
            if (copied > 0) full.Slice(checked((int)((o * g.Dim + g.First + j) * g.Inner - fullStart)), copied * g.Inner).CopyTo(dst);
            dst[(copied * g.Inner)..].Clear();
            row += run;
        }
    }

    /// <summary><paramref name="full"/> holds the tensor's elements from <paramref name="fullStart"/> on (a slice
    /// raises if a row falls outside it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnshardRows<T>(in ShardGeometry g, ReadOnlySpan<T> shard, Span<T> full, long fullStart, long rowStart, long rowCount)
        where T : unmanaged
    {
        // Replicas are identical by construction; rank 0 is the copy that counts.
        if (g.Replicated && g.Rank != 0) return;
        for (long row = rowStart, end = rowStart + rowCount; row < end;)
        {
            long o = row / g.PerRank;
            int j = (int)(row - o * g.PerRank);
            int run = (int)Math.Min(end - row, g.PerRank - j);
            int copied = Math.Clamp(g.Valid - j, 0, run);
            if (copied > 0) // a rank may hold only padding rows (tiny vocabularies)
            {
                shard.Slice(checked((int)(row * g.Inner)), copied * g.Inner)
                    .CopyTo(full.Slice(checked((int)((o * g.Dim + g.First + j) * g.Inner - fullStart)), copied * g.Inner));
            }
            row += run;
        }
    }

    /// <summary>A rank's view of a parameter: outer × dim × inner, the rank holding rows [First, First + Valid) of
    /// the shard dimension, padded to PerRank.</summary>
    private readonly record struct ShardGeometry(int Rank, bool Replicated, long Outer, int Dim, int Inner, int PerRank, int First, int Valid)
    {
        public long ShardRows => Outer * PerRank;
    }

    private static ShardGeometry Geometry(ParameterSpec spec, int tp, int rank, int fullLength, int shardLength)
    {
        CheckDegree(tp);
        if (rank < 0 || rank >= tp) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside [0, {tp})");
        if (fullLength != spec.ElementCount)
            throw new ArgumentException($"'{spec.Name}' {ShapeMath.Format(spec.Shape)} has {spec.ElementCount} elements, full buffer holds {fullLength}");
        if (spec.ShardDim < 0)
        {
            if (shardLength != fullLength)
                throw new ArgumentException($"'{spec.Name}' shard {ShapeMath.Format(spec.Shape)} has {fullLength} elements, shard buffer holds {shardLength}");
            return new ShardGeometry(rank, true, 1, 1, fullLength, 1, 0, 1);
        }
        long outer = OuterCount(spec);
        int dim = spec.Shape[spec.ShardDim];
        int inner = RowLength(spec);
        int perRank = PaddedDim(spec, tp) / tp;
        long shardElements = outer * perRank * inner;
        if (shardLength != shardElements)
            throw new ArgumentException($"'{spec.Name}' shard {ShapeMath.Format(ShardShape(spec, tp))} has {shardElements} elements, shard buffer holds {shardLength}");
        int first = rank * perRank;
        return new ShardGeometry(rank, false, outer, dim, inner, perRank, first, Math.Clamp(dim - first, 0, perRank));
    }

    private static void CheckWindow(ParameterSpec spec, long windowStart, int windowLength)
    {
        if (windowStart < 0 || windowStart + windowLength > spec.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(windowStart), $"'{spec.Name}': window [{windowStart}, {windowStart + windowLength}) is outside its {spec.ElementCount} elements");
    }

    private static void CheckRows(ParameterSpec spec, in ShardGeometry g, long rowStart, long rowCount)
    {
        if (rowStart < 0 || rowCount < 0 || rowStart + rowCount > g.ShardRows)
            throw new ArgumentOutOfRangeException(nameof(rowStart), $"'{spec.Name}': shard rows [{rowStart}, {rowStart + rowCount}) are outside [0, {g.ShardRows})");
    }

    private static void CheckDegree(int tp)
    {
        if (tp < 1) throw new ArgumentOutOfRangeException(nameof(tp), $"tensor-parallel degree {tp} must be ≥ 1");
    }
}
