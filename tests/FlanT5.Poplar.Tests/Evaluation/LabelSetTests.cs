using FlanT5.Poplar.Evaluation;

namespace FlanT5.Poplar.Tests.Evaluation;

public class LabelSetTests
{
    [TestCase("entailment", 0)]
    [TestCase("neutral", 1)]
    [TestCase("contradiction", 2)]
    [TestCase("  neutral\n", 1)]
    [TestCase("contradiction</s>", 2)]
    [TestCase("<pad> entailment</s><pad><pad>", 0)]
    [TestCase("Entailment", -1)]
    [TestCase("entail", -1)]
    [TestCase("neutral neutral", -1)]
    [TestCase("entailment.", -1)]
    [TestCase("", -1)]
    [TestCase("</s>", -1)]
    [TestCase("<unk>", -1)]
    public void MnliPostProcessingIsExactMatchAfterStrippingSpecialText(string generated, int expected)
    {
        Assert.That(LabelSet.Mnli.Classify(generated), Is.EqualTo(expected));
    }

    [Test]
    public void NamesAndIds()
    {
        Assert.That(LabelSet.Mnli.NameOf(2), Is.EqualTo("contradiction"));
        Assert.That(LabelSet.Mnli.NameOf(-1), Is.EqualTo("unknown"));
        Assert.That(LabelSet.Mnli.IdOf("neutral"), Is.EqualTo(1));
        Assert.Throws<ArgumentException>(() => LabelSet.Mnli.IdOf("-"));
        Assert.Throws<ArgumentOutOfRangeException>(() => LabelSet.Mnli.NameOf(3));
    }

    [Test]
    public void BadLabelSetsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => _ = new LabelSet([]));
        Assert.Throws<ArgumentException>(() => _ = new LabelSet(["yes", "yes"]));
        Assert.Throws<ArgumentException>(() => _ = new LabelSet(["yes", "unknown"]));
        Assert.Throws<ArgumentException>(() => _ = new LabelSet([" yes"]));
    }
}
