using FlanT5.Poplar.Data;

namespace FlanT5.Poplar.Tests.Data;

/// <summary>The three layouts of fixtures/synthetic-mnli hold the same examples in the same order.</summary>
public class MnliLayoutTests
{
    [TestCase("train")]
    [TestCase("validation_matched")]
    [TestCase("validation_mismatched")]
    public void ThreeLayoutsGiveTheSameExamples(string split)
    {
        var glue = MnliReader.Read(MnliReader.FindSplitFile(Path.Combine(DataFixtures.SyntheticMnli, "glue"), split));
        var jsonl = MnliReader.Read(MnliReader.FindSplitFile(Path.Combine(DataFixtures.SyntheticMnli, "multinli"), split));
        var parquet = MnliReader.Read(MnliReader.FindSplitFile(Path.Combine(DataFixtures.SyntheticMnli, "hf"), split));

        Assert.That(glue.Examples, Is.Not.Empty);
        Assert.That(jsonl.Examples, Is.EqualTo(glue.Examples));
        Assert.That(parquet.Examples, Is.EqualTo(glue.Examples));
        Assert.That(jsonl.SkippedNoGoldLabel, Is.EqualTo(glue.SkippedNoGoldLabel));
        Assert.That(parquet.SkippedNoGoldLabel, Is.Zero, "the parquet split omits the '-' rows");
        Assert.That(glue.SkippedBadRows + jsonl.SkippedBadRows + parquet.SkippedBadRows, Is.Zero);
        if (split == "train")
            Assert.That(glue.Examples, Has.Count.EqualTo(6000));
        else
            Assert.That(glue.SkippedNoGoldLabel, Is.GreaterThan(0), "dev splits have rows without gold label");
        Assert.That(glue.Examples.Count + glue.SkippedNoGoldLabel, Is.EqualTo(split == "train" ? 6000 : 600));
    }

    [Test]
    public void AllThreeLabelsOccur()
    {
        var train = MnliReader.Read(Path.Combine(DataFixtures.SyntheticMnli, "glue", "train.tsv"));
        Assert.That(train.Examples.Select(e => e.Label).Distinct(), Is.EquivalentTo(Enum.GetValues<NliLabel>()));
    }
}
