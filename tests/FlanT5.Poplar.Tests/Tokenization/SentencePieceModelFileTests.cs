using FlanT5.Poplar.Tests.Interop;
using FlanT5.Poplar.Tokenization;
using Google.Protobuf;

namespace FlanT5.Poplar.Tests.Tokenization;

/// <summary>Reading spiece.model and the in-memory patch that lets Microsoft.ML.Tokenizers load T5's model.</summary>
public class SentencePieceModelFileTests
{
    private const int PiecesField = 1, TrainerSpecField = 2, BosIdField = 41, BosPieceField = 46;

    [Test]
    public void ReadsTheSpecialIdsAndPiecesOfT5sModel()
    {
        var model = SentencePieceModelFile.Read(TokenizerFixtures.SpieceModel);

        Assert.Multiple(() =>
        {
            // T5's special ids (<pad> 0, </s> 1, <unk> 2, no <s>); the tiny model's 2000 pieces.
            Assert.That((model.PadId, model.EosId, model.UnkId, model.BosId), Is.EqualTo((0, 1, 2, -1)));
            Assert.That(model.EosPiece, Is.EqualTo("</s>"));
            Assert.That(model.Pieces, Has.Length.EqualTo(2000));
            Assert.That(model.Pieces[..3], Is.EqualTo(new[] { "<pad>", "</s>", "<unk>" }));
            Assert.That(model.Types[..4], Is.EqualTo(new[]
            {
                SentencePieceModelFile.PieceType.Control, SentencePieceModelFile.PieceType.Control,
                SentencePieceModelFile.PieceType.Unknown, SentencePieceModelFile.PieceType.Normal,
            }));
        });
    }

    [Test]
    public void PatchSetsBosToEosAndKeepsEveryOtherField()
    {
        var original = File.ReadAllBytes(TokenizerFixtures.SpieceModel);
        var patched = SentencePieceModelFile.Read(TokenizerFixtures.SpieceModel).PatchedBytes;

        var before = Fields(original);
        var after = Fields(patched);
        // The model's fields other than the trainer spec (pieces, normalizer spec, ...) come back byte for byte.
        Assert.That(after.Where(f => f.Field != TrainerSpecField), Is.EqualTo(before.Where(f => f.Field != TrainerSpecField)));
        Assert.That(after.Count(f => f.Field == PiecesField), Is.EqualTo(2000));

        var specBefore = Fields(before.Single(f => f.Field == TrainerSpecField).Value);
        var specAfter = Fields(after.Single(f => f.Field == TrainerSpecField).Value);
        Assert.That(specAfter.Where(f => f.Field is not (BosIdField or BosPieceField)),
            Is.EquivalentTo(specBefore.Where(f => f.Field is not (BosIdField or BosPieceField))));
        Assert.That(specAfter.Single(f => f.Field == BosIdField).Value, Is.EqualTo(new byte[] { 1 }), "bos_id = eos_id = 1");
        Assert.That(specAfter.Single(f => f.Field == BosPieceField).Value, Is.EqualTo("</s>"u8.ToArray()));
    }

    [Test]
    public void BadFilesAreNamedWithWhatIsWrong()
    {
        using var dir = new TempDirectory();
        var truncated = Path.Combine(dir.Path, "truncated.model");
        File.WriteAllBytes(truncated, File.ReadAllBytes(TokenizerFixtures.SpieceModel)[..1000]);
        var empty = Path.Combine(dir.Path, "empty.model");
        File.WriteAllBytes(empty, []);

        Assert.That(() => SentencePieceModelFile.Read(truncated), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(truncated + ": not a sentencepiece model (ModelProto): "));
        Assert.That(() => SentencePieceModelFile.Read(empty), Throws.TypeOf<InvalidDataException>()
            .With.Message.EqualTo(empty + ": not a sentencepiece model (ModelProto): it has no pieces"));
    }

    /// <summary>The top-level fields of a message in wire order: number and raw value (varints as their bytes).</summary>
    private static List<(int Field, byte[] Value)> Fields(byte[] message)
    {
        var fields = new List<(int, byte[])>();
        var input = new CodedInputStream(message);
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            byte[] value = WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.LengthDelimited => input.ReadBytes().ToByteArray(),
                WireFormat.WireType.Varint => BitConverter.GetBytes(input.ReadUInt64()).Reverse().SkipWhile(b => b == 0).Reverse().ToArray(),
                WireFormat.WireType.Fixed32 => BitConverter.GetBytes(input.ReadFixed32()),
                WireFormat.WireType.Fixed64 => BitConverter.GetBytes(input.ReadFixed64()),
                var other => throw new InvalidDataException($"wire type {other} in field {field}"),
            };
            fields.Add((field, value));
        }
        return fields;
    }
}
