using System.Text.Json;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Evaluation;

/// <summary>
/// How an evaluation split is shared by the instances of a run: instance i of n generates one contiguous range of
/// the examples, made of whole generation batches (batches [i·B/n, (i+1)·B/n) of the B batches of
/// <c>inference.batch_size</c>), so every instance generates exactly the batches one process would, with the same
/// padding and so the same answers; then the answers are gathered in instance order, which is example order.
/// </summary>
public static class EvaluationShards
{
    /// <summary>The examples instance <paramref name="instance"/> of <paramref name="instances"/> generates.</summary>
    public static Range Of(int examples, int batchSize, int instance, int instances)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(instances, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(instance);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(instance, instances);
        long batches = (examples + (long)batchSize - 1) / batchSize;
        int Start(int i) => (int)Math.Min(examples, batches * i / instances * batchSize);
        return new Range(Start(instance), Start(instance + 1));
    }

    /// <summary>
    /// Every instance's <paramref name="mine"/> (the answers to its <see cref="Of"/> range), concatenated in instance
    /// order: the answers to all <paramref name="examples"/> in example order, on every instance.
    /// </summary>
    public static IReadOnlyList<string> Gather(IReadOnlyList<string> mine, int examples, IInstanceGroup instances)
    {
        ArgumentNullException.ThrowIfNull(mine);
        ArgumentNullException.ThrowIfNull(instances);
        if (instances.Count == 1) return mine;
        var blobs = instances.AllGather(JsonSerializer.SerializeToUtf8Bytes(mine));
        var all = new List<string>(examples);
        for (int i = 0; i < blobs.Count; i++)
        {
            var part = JsonSerializer.Deserialize<string[]>(blobs[i])
                ?? throw new InvalidDataException($"instance {i} of {blobs.Count} sent no answers");
            all.AddRange(part);
        }
        if (all.Count != examples)
            throw new InvalidDataException($"the {blobs.Count} instances gathered {all.Count} answers for {examples} examples " +
                "(do they all read the same evaluation data?)");
        return all;
    }
}
