using FlanT5.Poplar.Data;
using FlanT5.Poplar.Tests.Tokenization;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Data;

public class DataLoaderTests
{
    private static readonly Lazy<List<Seq2SeqExample>> s_train = new(() =>
        MnliReader.Read(Path.Combine(DataFixtures.SyntheticMnli, "glue", "train.tsv")).Examples.Select(PromptTemplate.Mnli.Format).ToList());

    private static List<Seq2SeqExample> Train => s_train.Value;

    private static DataLoader Loader(DataLoaderOptions options, IReadOnlyList<Seq2SeqExample>? data = null) =>
        new(data ?? Train, TokenizerFixtures.Tokenizer, options);

    private static async Task<List<Seq2SeqBatch>> Take(DataLoader loader, DataCursor? from, int count)
    {
        var list = new List<Seq2SeqBatch>();
        await foreach (var b in loader.ReadAsync(from, count)) list.Add(b);
        return list;
    }

    [Test]
    public async Task PrefetchedBatchesEqualDirectBatchesAndResumeIsExact()
    {
        var loader = Loader(new DataLoaderOptions { BatchSize = 16, Seed = 47 });
        var first = await Take(loader, null, 6);
        Assert.That(first, Has.Count.EqualTo(6));
        Assert.That(first[2].Next, Is.EqualTo(new DataCursor(0, 3, 47)));

        var direct = loader.GetBatch(first[2].Next!);
        var resumed = await Take(Loader(new DataLoaderOptions { BatchSize = 16, Seed = 47 }), DataCursor.Parse(first[2].Next!.ToString()), 3);
        for (int i = 0; i < 3; i++)
        {
            Assert.That(resumed[i].ExampleIndices, Is.EqualTo(first[3 + i].ExampleIndices));
            Assert.That(resumed[i].InputIds, Is.EqualTo(first[3 + i].InputIds));
            Assert.That(resumed[i].Labels, Is.EqualTo(first[3 + i].Labels));
        }
        Assert.That(direct.InputIds, Is.EqualTo(first[3].InputIds));
    }

    [Test]
    public void RowsAreTheirExamplesTokenized()
    {
        var tok = TokenizerFixtures.Tokenizer;
        var batch = Loader(new DataLoaderOptions { BatchSize = 8 }).GetBatch(DataCursor.Start(47));
        for (int r = 0; r < batch.Rows; r++)
        {
            var example = Train[(int)batch.ExampleIndices[r]];
            var ids = tok.Encode(example.Source);
            Assert.That(batch.InputRow(r)[..ids.Length].ToArray(), Is.EqualTo(ids));
            Assert.That(batch.MaskRow(r).ToArray().Sum(), Is.EqualTo(ids.Length));
            Assert.That(tok.Decode(batch.LabelRow(r).ToArray().Where(x => x >= 0).ToArray(), skipSpecialTokens: true), Is.EqualTo(example.Target));
        }
    }

    [Test]
    public void EpochIsAPermutationAndSeedsDiffer()
    {
        var loader = Loader(new DataLoaderOptions { BatchSize = 500, Seed = 47 });
        Assert.That(loader.BatchesPerEpoch, Is.EqualTo(12));
        var seen = Enumerable.Range(0, 12).SelectMany(b => loader.GetBatch(new DataCursor(0, b, 47)).ExampleIndices).ToList();
        Assert.That(seen.Distinct().Count(), Is.EqualTo(6000));
        var epoch1 = loader.GetBatch(new DataCursor(1, 0, 47)).ExampleIndices;
        var seed48 = loader.GetBatch(new DataCursor(0, 0, 48)).ExampleIndices;
        Assert.That(epoch1, Is.Not.EqualTo(seen.Take(500)));
        Assert.That(seed48, Is.Not.EqualTo(seen.Take(500)));
        Assert.That(loader.GetBatch(new DataCursor(0, 11, 47)).Next, Is.EqualTo(new DataCursor(1, 0, 47)));
    }

    [Test]
    public void ShardsOfAGlobalBatchAreDisjointAndCoverIt()
    {
        var examples = Train.Take(1000).ToList();
        var single = Loader(new DataLoaderOptions { BatchSize = 24, Seed = 5 }, examples);
        var global = single.GetBatch(new DataCursor(0, 2, 5)).ExampleIndices;
        var parts = new List<long>();
        for (int instance = 0; instance < 2; instance++)
        {
            var batch = Loader(new DataLoaderOptions { BatchSize = 4, ReplicasPerInstance = 3, InstanceCount = 2, InstanceIndex = instance, Seed = 5 }, examples)
                .GetBatch(new DataCursor(0, 2, 5));
            Assert.That(batch.Rows, Is.EqualTo(12));
            parts.AddRange(batch.ExampleIndices);
        }
        Assert.That(parts, Is.EqualTo(global));
    }

    [Test]
    public void EachInstanceBuildsItsRowsOfTheGlobalBatchPaddedAsTheWholeBatch()
    {
        // Every instance must run the same program: its rows pad to the global batch's longest, whatever its own are.
        var examples = Train.Take(240).ToList();
        DataLoaderOptions Options(int count, int index) => new()
        {
            BatchSize = 4, ReplicasPerInstance = 3 * 2 / count, InstanceCount = count, InstanceIndex = index, Seed = 11,
            SourcePadding = PaddingOptions.Longest(maxLength: 512), TargetPadding = PaddingOptions.Longest(maxLength: 8),
        };
        int shapesThatDifferFromAShardsOwn = 0;
        for (long b = 0; b < 10; b++)
        {
            var cursor = new DataCursor(0, b, 11);
            var whole = Loader(Options(1, 0), examples).GetBatch(cursor);
            var shards = Enumerable.Range(0, 2).Select(i => Loader(Options(2, i), examples).GetBatch(cursor)).ToList();
            Assert.That(shards.SelectMany(s => s.ExampleIndices), Is.EqualTo(whole.ExampleIndices));
            Assert.That(shards.SelectMany(s => s.InputIds), Is.EqualTo(whole.InputIds));
            Assert.That(shards.SelectMany(s => s.Labels), Is.EqualTo(whole.Labels));
            foreach (var shard in shards)
            {
                Assert.That((shard.Rows, shard.SourceLength, shard.TargetLength), Is.EqualTo((12, whole.SourceLength, whole.TargetLength)));
                Assert.That((shard.LongestSource, shard.TruncatedSources), Is.EqualTo((whole.LongestSource, whole.TruncatedSources)));
                int ownLongest = Enumerable.Range(0, shard.Rows).Max(r => shard.MaskRow(r).ToArray().Sum());
                if (ownLongest < shard.SourceLength) shapesThatDifferFromAShardsOwn++;
            }
        }
        Assert.That(shapesThatDifferFromAShardsOwn, Is.GreaterThan(0), "some shard's own rows are shorter than the batch's");
    }

    [Test]
    public void DropLastAndWrapAround()
    {
        var examples = Train.Take(100).ToList();
        var dropped = Loader(new DataLoaderOptions { BatchSize = 30, Shuffle = false }, examples);
        Assert.That(dropped.BatchesPerEpoch, Is.EqualTo(3));
        var kept = Loader(new DataLoaderOptions { BatchSize = 30, Shuffle = false, DropLast = false }, examples);
        Assert.That(kept.BatchesPerEpoch, Is.EqualTo(4));
        var last = kept.GetBatch(new DataCursor(0, 3, 47)).ExampleIndices;
        Assert.That(last, Is.EqualTo(Enumerable.Range(90, 10).Concat(Enumerable.Range(0, 20)).Select(i => (long)i)));
        Assert.That(() => Loader(new DataLoaderOptions { BatchSize = 200 }, examples), Throws.ArgumentException.With.Message.Contains("fewer than one global batch"));
        Assert.That(() => dropped.GetBatch(new DataCursor(0, 9, 47)), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void BucketingReducesPaddingAndKeepsEveryRow()
    {
        var plain = Loader(new DataLoaderOptions { BatchSize = 32, Seed = 3 });
        var bucketed = Loader(new DataLoaderOptions { BatchSize = 32, Seed = 3, BucketWindow = 50 });
        long Padding(DataLoader l) => Enumerable.Range(0, 40).Select(b => l.GetBatch(new DataCursor(0, b, 3)))
            .Sum(b => (long)b.AttentionMask.Count(m => m == 0));
        Assert.That(Padding(bucketed), Is.LessThan(Padding(plain) / 2));
        var all = Enumerable.Range(0, (int)bucketed.BatchesPerEpoch).SelectMany(b => bucketed.GetBatch(new DataCursor(0, b, 3)).ExampleIndices);
        Assert.That(all.Distinct().Count(), Is.EqualTo(6000 / 32 * 32));
    }

    [Test]
    public async Task FixedPaddingGivesStaticShapes()
    {
        var loader = Loader(new DataLoaderOptions { BatchSize = 4, SourcePadding = PaddingOptions.Fixed(64), TargetPadding = PaddingOptions.Fixed(8) });
        await foreach (var b in loader.ReadAsync(null, 3))
            Assert.That((b.SourceLength, b.TargetLength), Is.EqualTo((64, 8)));
    }

    [Test]
    public async Task PaddedLengthsAreTheShapesOfTheBatchesReadAcrossAnEpochEnd()
    {
        // 2 instances, length bucketing, buckets capped at 24 source tokens: the shapes counted without building
        // the batches are those the producer builds, past the end of an epoch too.
        var options = new DataLoaderOptions
        {
            BatchSize = 16, InstanceCount = 2, InstanceIndex = 1, BucketWindow = 4, Seed = 5,
            SourcePadding = PaddingOptions.PowerOfTwoBuckets(24), TargetPadding = PaddingOptions.PowerOfTwoBuckets(8),
        };
        var data = Train.Take(200).ToList();  // 6 global batches of 32 an epoch
        var loader = Loader(options, data);
        var from = new DataCursor(0, 4, 5);
        var read = await Take(loader, from, 5);
        var counted = loader.PaddedLengths(from, 5);
        Assert.That(counted, Is.EqualTo(read.Select(b => (b.SourceLength, b.TargetLength)).ToList()));
        Assert.That(read[^1].Next!.Epoch, Is.EqualTo(1));
        Assert.That(counted.Select(c => c.SourceLength), Is.All.AnyOf(1, 2, 4, 8, 16, 24));
    }

    [Test]
    public void LengthBucketingPadsAnEpochToFewerTokens()
    {
        // The window sorts rows of similar length together: their batches pad to smaller buckets.
        long PaddedSourceTokens(int window)
        {
            var options = new DataLoaderOptions
            {
                BatchSize = 32, BucketWindow = window, Seed = 9,
                SourcePadding = PaddingOptions.PowerOfTwoBuckets(512), TargetPadding = PaddingOptions.PowerOfTwoBuckets(8),
            };
            var loader = Loader(options);
            return loader.PaddedLengths(loader.Start, loader.BatchesPerEpoch).Sum(l => (long)l.SourceLength * 32);
        }
        long plain = PaddedSourceTokens(0), bucketed = PaddedSourceTokens(16);
        TestContext.Out.WriteLine($"padded source tokens an epoch: {plain} shuffled, {bucketed} with a window of 16");
        Assert.That(bucketed, Is.LessThan(plain));
    }

    [Test]
    public void ProducerErrorsReachTheConsumer()
    {
        var loader = Loader(new DataLoaderOptions { BatchSize = 4, SourcePadding = PaddingOptions.Fixed(8, truncate: false) });
        Assert.That(async () => { await foreach (var _ in loader.ReadAsync(null, 2)) { } },
            Throws.ArgumentException.With.Message.Contains("tokens, more than the 8 allowed"));
    }

    [Test]
    public void OptionsAreValidated()
    {
        Assert.That(() => Loader(new DataLoaderOptions { BatchSize = 0 }), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("BatchSize"));
        Assert.That(() => Loader(new DataLoaderOptions { InstanceIndex = 2, InstanceCount = 2 }), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("InstanceIndex"));
        var cursor = new DataCursor(3, 17, 47);
        Assert.That(System.Text.Json.JsonSerializer.Deserialize<DataCursor>(System.Text.Json.JsonSerializer.Serialize(cursor)), Is.EqualTo(cursor));
        Assert.That(() => DataCursor.Parse("1:2"), Throws.TypeOf<FormatException>().With.Message.Contains("epoch:batch:seed"));
    }
}
