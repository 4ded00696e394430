using FlanT5.Poplar.Tokenization.SentencePieceProto;
using Google.Protobuf;

namespace FlanT5.Poplar.Tokenization;

/// <summary>
/// The parts of a sentencepiece <c>ModelProto</c> (spiece.model) the T5 tokenizer needs, read with the message
/// types protoc generates from sentencepiece_model.proto, plus the file's bytes patched so Microsoft.ML.Tokenizers
/// 2.0.1 accepts them.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers 2.0.1 indexes its vocabulary with <c>trainer_spec.bos_id</c> and throws for T5's
/// <c>bos_id = -1</c> (no BOS). <see cref="PatchedBytes"/> is then the model re-serialized with <c>bos_id = eos_id</c>
/// and <c>bos_piece = eos_piece</c> (every other field kept), which leaves the encoding untouched: the tokenizer never
/// emits BOS. The user's file is not modified.
/// </remarks>
internal sealed class SentencePieceModelFile
{
    /// <summary>sentencepiece piece types (ModelProto.SentencePiece.Type).</summary>
    internal enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

    public required string Path { get; init; }
    public required string[] Pieces { get; init; }
    public required PieceType[] Types { get; init; }

    /// <summary>Each piece's log-probability (the unigram model's score; 0 when the file omits it).</summary>
    public required float[] Scores { get; init; }
    public int UnkId { get; init; }
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;
    public int PadId { get; init; } = -1;
    public string EosPiece { get; init; } = "</s>";
    public required byte[] PatchedBytes { get; init; }

    public static SentencePieceModelFile Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileNotFoundException($"{path}: cannot read the sentencepiece model: {e.Message}", path, e);
        }
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw NotAModel(path, e.Message, e);
        }
        return FromModel(path, bytes, model);
    }

    private static SentencePieceModelFile FromModel(string path, byte[] bytes, ModelProto model)
    {
        int count = model.Pieces.Count;
        if (count == 0) throw NotAModel(path, "it has no pieces");
        // An absent trainer spec reads as sentencepiece's defaults, as every absent field does.
        var spec = model.TrainerSpec ?? new TrainerSpec();
        if ((uint)spec.UnkId >= (uint)count)
            throw NotAModel(path, $"unk_id {spec.UnkId} is outside the {count} pieces");
        if ((uint)spec.EosId >= (uint)count)
            throw NotAModel(path, $"eos_id {spec.EosId} is outside the {count} pieces (T5 needs an eos token)");

        return new SentencePieceModelFile
        {
            Path = path,
            Pieces = model.Pieces.Select(p => p.Piece).ToArray(),
            Types = model.Pieces.Select(p => (PieceType)p.Type).ToArray(),
            Scores = model.Pieces.Select(p => p.Score).ToArray(),
            UnkId = spec.UnkId,
            BosId = spec.BosId,
            EosId = spec.EosId,
            PadId = spec.PadId,
            EosPiece = spec.EosPiece,
            PatchedBytes = (uint)spec.BosId < (uint)count ? bytes : WithEosAsBos(model),
        };
    }

    private static byte[] WithEosAsBos(ModelProto model)
    {
        var patched = model.Clone();
        patched.TrainerSpec ??= new TrainerSpec();
        patched.TrainerSpec.BosId = patched.TrainerSpec.EosId;
        patched.TrainerSpec.BosPiece = patched.TrainerSpec.EosPiece;
        return patched.ToByteArray();
    }

    private static InvalidDataException NotAModel(string path, string why, Exception? inner = null) =>
        new($"{path}: not a sentencepiece model (ModelProto): {why}", inner);
}
