using System.Text.Json;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Evaluation;

public class EvaluationShardsTests
{
    [TestCase(593, 64, 2)]
    [TestCase(593, 48, 2)]
    [TestCase(9815, 64, 4)]
    [TestCase(10, 4, 3)]
    [TestCase(5, 8, 3)]
    [TestCase(0, 8, 2)]
    [TestCase(7, 1, 7)]
    public void InstancesTileTheExamplesInOrderInWholeBatches(int examples, int batchSize, int instances)
    {
        var ranges = Enumerable.Range(0, instances)
            .Select(i => EvaluationShards.Of(examples, batchSize, i, instances).GetOffsetAndLength(examples)).ToList();
        var batches = (examples + batchSize - 1) / batchSize;
        Assert.Multiple(() =>
        {
            Assert.That(ranges[0].Offset, Is.Zero);
            for (int i = 1; i < instances; i++) Assert.That(ranges[i].Offset, Is.EqualTo(ranges[i - 1].Offset + ranges[i - 1].Length));
            Assert.That(ranges[^1].Offset + ranges[^1].Length, Is.EqualTo(examples));
            // Every range starts on a batch of the one-process run, so every instance generates that run's batches.
            Assert.That(ranges.Select(r => r.Offset % batchSize), Is.All.Zero);
            // Balanced: the instances' batch counts differ by at most one.
            var perInstance = ranges.Select(r => (r.Length + batchSize - 1) / batchSize).ToList();
            Assert.That(perInstance.Sum(), Is.EqualTo(batches));
            Assert.That(perInstance.Max() - perInstance.Min(), Is.LessThanOrEqualTo(1));
        });
    }

    [Test]
    public void TheBundledValidationSplitOverTwoInstances()
    {
        // 593 examples in batches of 64: 10 batches, 5 each.
        Assert.That(EvaluationShards.Of(593, 64, 0, 2), Is.EqualTo(new Range(0, 320)));
        Assert.That(EvaluationShards.Of(593, 64, 1, 2), Is.EqualTo(new Range(320, 593)));
    }

    [TestCase(-1, 8, 0, 1)]
    [TestCase(10, 0, 0, 1)]
    [TestCase(10, 8, 2, 2)]
    [TestCase(10, 8, -1, 2)]
    [TestCase(10, 8, 0, 0)]
    public void BadArgumentsAreRefused(int examples, int batchSize, int instance, int instances) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationShards.Of(examples, batchSize, instance, instances));

    [Test]
    public void GatherConcatenatesTheAnswersInInstanceOrder()
    {
        var group = new FixedGroup(index: 1, [["a", "b"], ["c"], ["d", "e", "f"]]);
        Assert.That(EvaluationShards.Gather(["c"], 6, group), Is.EqualTo(new[] { "a", "b", "c", "d", "e", "f" }));
        Assert.That(group.Sent, Is.EqualTo(new[] { "c" }));
    }

    [Test]
    public void GatherRefusesAnswersThatDoNotCoverTheExamples()
    {
        var group = new FixedGroup(index: 0, [["a"], ["b"]]);
        var e = Assert.Throws<InvalidDataException>(() => EvaluationShards.Gather(["a"], 3, group))!;
        Assert.That(e.Message, Does.Contain("the 2 instances gathered 2 answers for 3 examples"));
    }

    [Test]
    public void OneInstanceGathersItsOwnAnswersWithoutAnExchange() =>
        Assert.That(EvaluationShards.Gather(["x", "y"], 2, new OneInstance()), Is.EqualTo(new[] { "x", "y" }));

    /// <summary>Instance <c>index</c> of a group whose instances answered <c>answers</c>; records what it was given.</summary>
    private sealed class FixedGroup(int index, string[][] answers) : IInstanceGroup
    {
        public string[]? Sent { get; private set; }

        public int Index => index;

        public int Count => answers.Length;

        public IReadOnlyList<byte[]> AllGather(ReadOnlySpan<byte> mine)
        {
            Sent = JsonSerializer.Deserialize<string[]>(mine);
            return [.. answers.Select(a => JsonSerializer.SerializeToUtf8Bytes(a))];
        }
    }
}
