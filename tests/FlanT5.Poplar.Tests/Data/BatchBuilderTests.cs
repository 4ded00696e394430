using FlanT5.Poplar.Data;
using FlanT5.Poplar.Tests.Tokenization;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Data;

public class BatchBuilderTests
{
    [Test]
    public void PromptMatchesReferenceRun()
    {
        var example = new MnliExample("A girl is walking a dog on the beach.", "A person is walking a dog on the beach.", NliLabel.Entailment);
        var formatted = PromptTemplate.Mnli.Format(example);
        Assert.That(formatted.Source, Is.EqualTo("mnli hypothesis: A person is walking a dog on the beach. premise: A girl is walking a dog on the beach."));
        Assert.That(formatted.Target, Is.EqualTo("entailment"));
    }

    [Test]
    public void TemplatesAreConfigurableAndChecked()
    {
        var template = new PromptTemplate("premise: {premise} {{literal}} hypothesis: {hypothesis}", "answer: {label}");
        var formatted = template.Format(new MnliExample("P", "H", NliLabel.Neutral));
        Assert.That(formatted, Is.EqualTo(new Seq2SeqExample("premise: P {literal} hypothesis: H", "answer: neutral")));
        Assert.That(template.Fields, Is.EquivalentTo(new[] { "premise", "hypothesis", "label" }));
        Assert.That(() => new PromptTemplate("{premise", "{label}"), Throws.TypeOf<FormatException>().With.Message.Contains("not closed"));
        Assert.That(() => new PromptTemplate("{}", "{label}"), Throws.TypeOf<FormatException>());
        Assert.That(() => new PromptTemplate("{sentence}", "{label}").Format(new MnliExample("P", "H", NliLabel.Neutral)),
            Throws.ArgumentException.With.Message.Contains("'{sentence}'").And.Message.Contains("premise, hypothesis, label"));
    }

    [Test]
    public void LabelsUseMinus100AndDecoderInputsShiftRight()
    {
        var builder = new BatchBuilder(PaddingOptions.Longest(), PaddingOptions.Fixed(4));
        var batch = builder.Build([[5, 6, 1], [7, 1]], [[59, 1], [60, 61, 62, 1]]);
        Assert.That((batch.Rows, batch.SourceLength, batch.TargetLength), Is.EqualTo((2, 3, 4)));
        Assert.That(batch.InputIds, Is.EqualTo(new[] { 5, 6, 1, 7, 1, 0 }));
        Assert.That(batch.AttentionMask, Is.EqualTo(new[] { 1, 1, 1, 1, 1, 0 }));
        Assert.That(batch.Labels, Is.EqualTo(new[] { 59, 1, -100, -100, 60, 61, 62, 1 }));
        // Built before the -100 replacement: padding shows as pad 0, not -100.
        Assert.That(batch.DecoderInputIds, Is.EqualTo(new[] { 0, 59, 1, 0, 0, 60, 61, 62 }));
    }

    [Test]
    public void PaddingRoundsToMultipleAndTruncationKeepsEos()
    {
        var builder = new BatchBuilder(PaddingOptions.Longest(multipleOf: 8, maxLength: 4), PaddingOptions.Longest(multipleOf: 1));
        var batch = builder.Build([[10, 11, 12, 13, 14, 15, 1], [20, 1]], [[59, 1], [60, 1]]);
        Assert.That(batch.SourceLength, Is.EqualTo(8));
        Assert.That(batch.InputRow(0).ToArray(), Is.EqualTo(new[] { 10, 11, 12, 1, 0, 0, 0, 0 }));
        Assert.That(batch.MaskRow(0).ToArray(), Is.EqualTo(new[] { 1, 1, 1, 1, 0, 0, 0, 0 }));
        var strict = new BatchBuilder(PaddingOptions.Fixed(4, truncate: false), PaddingOptions.Longest());
        Assert.That(() => strict.Build([[1, 2, 3, 4, 5]], [[1]]), Throws.ArgumentException.With.Message.Contains("source row 0 has 5 tokens"));
    }

    [Test]
    public void ReferenceShapesPadBothSidesTo512()
    {
        var tok = TokenizerFixtures.Tokenizer;
        var ex = PromptTemplate.Mnli.Format(new MnliExample("A man sleeps.", "Nobody sleeps.", NliLabel.Contradiction));
        var batch = BatchBuilder.Reference().Build([tok.Encode(ex.Source)], [tok.Encode(ex.Target)]);
        Assert.That((batch.SourceLength, batch.TargetLength), Is.EqualTo((512, 512)));
        Assert.That(batch.LabelRow(0)[..3].ToArray(), Is.EqualTo(new[] { 58, 1, -100 }));
        Assert.That(batch.DecoderInputRow(0)[..3].ToArray(), Is.EqualTo(new[] { 0, 58, 1 }));
    }

    /// <summary>
    /// End to end against the fixture batch: validation_mismatched rows read from GLUE TSV, prompted, tokenized and
    /// padded to the longest give flan-t5-tiny's reference input_ids, attention_mask, labels and decoder_input_ids.
    /// </summary>
    [Test]
    public void PipelineReproducesReferenceForwardBackwardBatch()
    {
        string fixture = Path.Combine(DataFixtures.Root, "flan-t5-tiny", "reference_forward_backward.safetensors");
        var inputIds = DataFixtures.ReadInt64Tensor(fixture, "input_ids");
        var labels = DataFixtures.ReadInt64Tensor(fixture, "labels");
        var tok = TokenizerFixtures.Tokenizer;

        var examples = MnliReader.Read(Path.Combine(DataFixtures.SyntheticMnli, "glue", "dev_mismatched.tsv")).Examples
            .Select(PromptTemplate.Mnli.Format).ToList();
        var bySource = examples.GroupBy(e => tok.Decode(tok.Encode(e.Source), skipSpecialTokens: true)).ToDictionary(g => g.Key, g => g.First());
        var rows = inputIds.Select(ids => bySource[tok.Decode(ids, skipSpecialTokens: true)]).ToList();

        var batch = new BatchBuilder(PaddingOptions.Longest(), PaddingOptions.Longest())
            .Build(rows.Select(r => tok.Encode(r.Source)).ToList(), rows.Select(r => tok.Encode(r.Target)).ToList());

        Assert.That(batch.InputIds, Is.EqualTo(inputIds.SelectMany(r => r).ToArray()));
        Assert.That(batch.AttentionMask, Is.EqualTo(DataFixtures.ReadInt64Tensor(fixture, "attention_mask").SelectMany(r => r).ToArray()));
        Assert.That(batch.Labels, Is.EqualTo(labels.SelectMany(r => r).ToArray()));
        Assert.That(batch.DecoderInputIds, Is.EqualTo(DataFixtures.ReadInt64Tensor(fixture, "decoder_input_ids").SelectMany(r => r).ToArray()));
    }
}
