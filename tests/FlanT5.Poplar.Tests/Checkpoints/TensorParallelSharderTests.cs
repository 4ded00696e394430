using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class TensorParallelSharderTests
{
    [Test]
    public void ShardsAreContiguousSlicesAlongTheShardDim()
    {
        // o.weight [d=2, inner=4] sharded on dim 1 at tp 2: rank 0 holds columns 0-1 of every row.
        var spec = new ParameterSpec("x.o.weight", [2, 4], 1, false);
        float[] full = [0, 1, 2, 3, 10, 11, 12, 13];
        var shard = new float[4];
        TensorParallelSharder.Shard(spec, 2, full, 1, shard);
        Assert.That(shard, Is.EqualTo(new float[] { 2, 3, 12, 13 }));
        var q = new ParameterSpec("x.q.weight", [4, 2], 0, false);
        TensorParallelSharder.Shard(q, 2, full, 1, shard);
        Assert.That(shard, Is.EqualTo(new float[] { 10, 11, 12, 13 }), "rows 2-3");
    }

    [Test]
    public void VocabIsZeroPaddedToAMultipleOfTp()
    {
        var spec = new ParameterSpec("shared.weight", [10, 2], 0, false);
        Assert.That(TensorParallelSharder.PaddedDim(spec, 4), Is.EqualTo(12));
        Assert.That(TensorParallelSharder.ShardShape(spec, 4), Is.EqualTo(new[] { 3, 2 }));
        Assert.That(TensorParallelSharder.PaddedDim(spec, 1), Is.EqualTo(10), "tp 1 leaves the HF tensor unchanged");
        var full = Enumerable.Range(1, 20).Select(i => (float)i).ToArray();
        var last = new float[6];
        last.AsSpan().Fill(-1);
        TensorParallelSharder.Shard(spec, 4, full, 3, last);
        Assert.That(last, Is.EqualTo(new float[] { 19, 20, 0, 0, 0, 0 }));
        var back = new float[20];
        for (int rank = 0; rank < 4; rank++)
        {
            var s = new float[6];
            TensorParallelSharder.Shard(spec, 4, full, rank, s);
            TensorParallelSharder.Unshard(spec, 4, rank, s, back);
        }
        Assert.That(back, Is.EqualTo(full));
    }

    [Test]
    public void HeadsThatDoNotDivideAreRejected()
    {
        var spec = new ParameterSpec("x.q.weight", [64, 64], 0, false);
        Assert.That(Assert.Throws<ArgumentException>(() => TensorParallelSharder.PaddedDim(spec, 3))!.Message, Does.Contain("x.q.weight"));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void HfToDeviceLayoutAndBackIsBitExact(int tp)
    {
        var dir = CheckpointTestFiles.NewTempDirectory();
        try
        {
            foreach (var source in new[] { CheckpointTestFiles.FlanT5Tiny, CheckpointTestFiles.HfT5Tiny })
            {
                using var checkpoint = HfCheckpointLoader.Open(source);
                TensorParallelSharder.Validate(checkpoint.Map, tp);
                var parameters = new Dictionary<string, HostTensor>();
                foreach (var spec in checkpoint.Map.Parameters)
                {
                    var full = new float[spec.ElementCount];
                    checkpoint.ReadTensor(spec.Name, full);
                    var shards = Enumerable.Range(0, tp).Select(_ => new float[ShapeMath.ElementCount(TensorParallelSharder.ShardShape(spec, tp))]).ToArray();
                    for (int r = 0; r < tp; r++) TensorParallelSharder.Shard(spec, tp, full, r, shards[r]);
                    var back = new float[full.Length];
                    for (int r = 0; r < tp; r++) TensorParallelSharder.Unshard(spec, tp, r, shards[r], back);
                    parameters[spec.Name] = new HostTensor(spec.Shape, back);
                }
                var exportOnly = checkpoint.ExportOnly.ToDictionary(n => n, n =>
                {
                    var t = HostTensor.Zeros(checkpoint.Files.Info(n).Shape);
                    checkpoint.ReadTensor(n, t.Data);
                    return t;
                });
                var state = new HostModelState(checkpoint.Config, checkpoint.Layout, parameters, exportOnly);
                var output = Path.Combine(dir, Path.GetFileName(source));
                HfCheckpointExporter.Export(state, output);
                HfCheckpointTests.AssertSameTensors(source, output);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Shard rows in blocks, joined back through windows, equal the whole-tensor Shard/Unshard — for a row-sharded
    /// vocabulary where whole ranks are padding, a column-sharded 3-D tensor, and a replicated one.</summary>
    [TestCase("shared.weight", new[] { 10, 3 }, 0, true, 8)]
    [TestCase("x.o.weight", new[] { 3, 8, 2 }, 1, false, 4)]
    [TestCase("x.layer_norm.weight", new[] { 7 }, -1, false, 2)]
    public void BlocksOfShardRowsMatchTheWholeTensorConversion(string name, int[] shape, int shardDim, bool vocab, int tp)
    {
        var spec = new ParameterSpec(name, shape, shardDim, vocab);
        var full = Enumerable.Range(1, (int)spec.ElementCount).Select(i => (float)i).ToArray();
        int shardElements = (int)ShapeMath.ElementCount(TensorParallelSharder.ShardShape(spec, tp));
        long rows = TensorParallelSharder.ShardRowCount(spec, tp);
        int rowLength = TensorParallelSharder.RowLength(spec);
        Assert.That(rows * rowLength, Is.EqualTo(shardElements));
        var joined = new float[full.Length];
        var windowed = new float[full.Length];
        for (int rank = 0; rank < tp; rank++)
        {
            var whole = new float[shardElements];
            TensorParallelSharder.Shard(spec, tp, full, rank, whole);
            var blocks = Enumerable.Repeat(-1f, shardElements).ToArray();
            for (long row = 0; row < rows; row += 2) // blocks of 2 rows: they cross outer indices and padding
            {
                long count = Math.Min(2, rows - row);
                TensorParallelSharder.Shard(spec, tp, full, rank, blocks, row, count);
                // Join the block back through a window: here the whole tensor, starting at element 0.
                TensorParallelSharder.UnshardIntoWindow<float>(spec, tp, rank, blocks, windowed, 0, row, count);
            }
            Assert.That(blocks, Is.EqualTo(whole), $"rank {rank}: blocks equal the whole shard (padding zero)");
            TensorParallelSharder.Unshard(spec, tp, rank, whole, joined);
        }
        Assert.That(joined, Is.EqualTo(full));
        Assert.That(windowed, Is.EqualTo(full));
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorParallelSharder.Shard(spec, tp, full, 0, new float[shardElements], rows, 1));
    }

    [Test]
    public void AWindowJoinsBackOnlyTheElementsItCovers()
    {
        // o.weight [4, 8] sharded on dim 1 at tp 4: outer row 2 of rank 1 lands at elements 18-19.
        var spec = new ParameterSpec("x.o.weight", [4, 8], 1, false);
        var full = Enumerable.Range(0, 32).Select(i => (float)i).ToArray();
        var shard = new float[8];
        TensorParallelSharder.Shard(spec, 4, full, 1, shard);
        var window = new float[8]; // elements 16..23 = outer row 2
        TensorParallelSharder.UnshardIntoWindow<float>(spec, 4, 1, shard, window, 16, 4, 2);
        Assert.That(window, Is.EqualTo(new float[] { 0, 0, 18, 19, 0, 0, 0, 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorParallelSharder.UnshardIntoWindow<float>(spec, 4, 1, shard, window, 0, 4, 2),
            "row 2 does not fall in elements 0..7");
    }
}
