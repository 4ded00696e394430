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
        var (outer, dim, inner, perRank) = Geometry(spec, tp, rank, full.Length, shard.Length);
        if (spec.ShardDim < 0)
        {
            full.CopyTo(shard);
            return;
        }
        int first = rank * perRank;
        int valid = Math.Clamp(dim - first, 0, perRank);
        for (long o = 0; o < outer; o++)
        {
            var src = full.Slice(checked((int)((o * dim + first) * inner)), valid * inner);
            var dst = shard.Slice(checked((int)(o * perRank * inner)), perRank * inner);
            src.CopyTo(dst);
            dst[(valid * inner)..].Clear();
        }
    }

    /// <summary>Copies rank <paramref name="rank"/>'s shard back into <paramref name="full"/>, dropping padding rows.</summary>
    public static void Unshard<T>(ParameterSpec spec, int tp, int rank, ReadOnlySpan<T> shard, Span<T> full) where T : unmanaged
    {
        var (outer, dim, inner, perRank) = Geometry(spec, tp, rank, full.Length, shard.Length);
        if (spec.ShardDim < 0)
        {
            // Replicas are identical by construction; rank 0 is the copy that counts.
            if (rank == 0) shard.CopyTo(full);
            return;
        }
        int first = rank * perRank;
        int valid = Math.Clamp(dim - first, 0, perRank);
        for (long o = 0; o < outer; o++)
        {
            shard.Slice(checked((int)(o * perRank * inner)), valid * inner)
                .CopyTo(full.Slice(checked((int)((o * dim + first) * inner)), valid * inner));
        }
    }

    private static (long Outer, int Dim, int Inner, int PerRank) Geometry(ParameterSpec spec, int tp, int rank, int fullLength, int shardLength)
    {
        CheckDegree(tp);
        if (rank < 0 || rank >= tp) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside [0, {tp})");
        if (fullLength != spec.ElementCount)
            throw new ArgumentException($"'{spec.Name}' {ShapeMath.Format(spec.Shape)} has {spec.ElementCount} elements, full buffer holds {fullLength}");
        long shardElements = ShapeMath.ElementCount(ShardShape(spec, tp));
        if (shardLength != shardElements)
            throw new ArgumentException($"'{spec.Name}' shard {ShapeMath.Format(ShardShape(spec, tp))} has {shardElements} elements, shard buffer holds {shardLength}");
        if (spec.ShardDim < 0) return (1, 1, fullLength, 1);
        long outer = ShapeMath.ElementCount(spec.Shape.AsSpan(0, spec.ShardDim));
        int inner = checked((int)ShapeMath.ElementCount(spec.Shape.AsSpan(spec.ShardDim + 1)));
        return (outer, spec.Shape[spec.ShardDim], inner, PaddedDim(spec, tp) / tp);
    }

    private static void CheckDegree(int tp)
    {
        if (tp < 1) throw new ArgumentOutOfRangeException(nameof(tp), $"tensor-parallel degree {tp} must be ≥ 1");
    }
}
