using System.Text.Json;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Tokenization;

/// <summary>Every row of tokenizer_parity.json (made with Hugging Face transformers 5.17 / sentencepiece 0.2.2).</summary>
public class T5TokenizerParityTests
{
    private sealed record ParityRow(string Text, int[] Ids, int[] SpIds, string Decoded, string DecodedKeep);

    private static JsonDocument LoadParity() => JsonDocument.Parse(File.ReadAllBytes(TokenizerFixtures.ParityJson));

    private static IEnumerable<TestCaseData> Rows()
    {
        using var doc = LoadParity();
        int i = 0;
        foreach (var row in doc.RootElement.GetProperty("rows").EnumerateArray())
        {
            var r = new ParityRow(
                row.GetProperty("text").GetString()!,
                row.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                row.GetProperty("sp_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                row.GetProperty("decoded").GetString()!,
                row.GetProperty("decoded_keep").GetString()!);
            yield return new TestCaseData(r).SetArgDisplayNames($"row{i++:D3}");
        }
    }

    [Test]
    public void VocabularyMatchesT5Layout()
    {
        using var doc = LoadParity();
        var tok = TokenizerFixtures.Tokenizer;
        Assert.That(tok.SentencePieceSize, Is.EqualTo(2000));
        Assert.That(tok.VocabSize, Is.EqualTo(2100));
        Assert.That(tok.ExtraId(0), Is.EqualTo(doc.RootElement.GetProperty("extra_id_0").GetInt32()));
        Assert.That(tok.ExtraId(99), Is.EqualTo(doc.RootElement.GetProperty("extra_id_99").GetInt32()));
        Assert.That((tok.PadId, tok.EosId, tok.UnkId), Is.EqualTo((0, 1, 2)));
        Assert.That(tok.IdToToken(tok.ExtraId(0)), Is.EqualTo("<extra_id_0>"));
    }

    [TestCaseSource(nameof(Rows))]
    public void EncodeMatchesHuggingFace(object row)
    {
        var r = (ParityRow)row;
        var tok = TokenizerFixtures.Tokenizer;
        Assert.That(tok.Encode(r.Text), Is.EqualTo(r.Ids), $"text: {r.Text}");
        if (!r.Text.Contains('<'))
            Assert.That(tok.EncodePlain(r.Text), Is.EqualTo(r.SpIds), "raw sentencepiece ids");
    }

    [TestCaseSource(nameof(Rows))]
    public void DecodeMatchesHuggingFace(object row)
    {
        var r = (ParityRow)row;
        var tok = TokenizerFixtures.Tokenizer;
        Assert.That(tok.Decode(r.Ids, skipSpecialTokens: true), Is.EqualTo(r.Decoded));
        Assert.That(tok.Decode(r.Ids, skipSpecialTokens: false), Is.EqualTo(r.DecodedKeep));
    }

    [Test]
    public void PaddedBatchMatchesHuggingFace()
    {
        using var doc = LoadParity();
        var batch = doc.RootElement.GetProperty("padded_batch");
        var texts = batch.GetProperty("texts").EnumerateArray().Select(e => e.GetString()!).ToArray();
        int maxLength = batch.GetProperty("max_length").GetInt32();
        var expectedIds = batch.GetProperty("input_ids").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetInt32())).ToArray();
        var expectedMask = batch.GetProperty("attention_mask").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetInt32())).ToArray();

        var padded = TokenizerFixtures.Tokenizer.EncodeBatch(texts, PaddingOptions.Fixed(maxLength));

        Assert.That((padded.Rows, padded.Length), Is.EqualTo((texts.Length, maxLength)));
        Assert.That(padded.InputIds, Is.EqualTo(expectedIds));
        Assert.That(padded.AttentionMask, Is.EqualTo(expectedMask));
    }

    [Test]
    public void LabelIdsMatchHuggingFace()
    {
        using var doc = LoadParity();
        foreach (var label in doc.RootElement.GetProperty("label_ids").EnumerateObject())
        {
            var expected = label.Value.EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.That(TokenizerFixtures.Tokenizer.Encode(label.Name), Is.EqualTo(expected), label.Name);
        }
    }
}
