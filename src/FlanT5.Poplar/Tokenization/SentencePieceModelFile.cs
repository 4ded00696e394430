using System.Text;

namespace FlanT5.Poplar.Tokenization;

/// <summary>
/// The parts of a sentencepiece <c>ModelProto</c> (spiece.model) the T5 tokenizer needs, read with a minimal
/// protobuf wire reader, plus the file's bytes patched so Microsoft.ML.Tokenizers 2.0.1 accepts them.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers 2.0.1 indexes its vocabulary with <c>trainer_spec.bos_id</c> and throws for T5's
/// <c>bos_id = -1</c> (no BOS). <see cref="PatchedBytes"/> rewrites the trainer spec in memory with
/// <c>bos_id = eos_id</c> and <c>bos_piece = eos_piece</c> appended (protobuf: the last value of a field wins),
/// which leaves the encoding untouched: the tokenizer never emits BOS. The user's file is not modified.
/// </remarks>
internal sealed class SentencePieceModelFile
{
    // sentencepiece_model.proto field numbers.
    private const int ModelPiecesField = 1, ModelTrainerSpecField = 2;
    private const int PieceTextField = 1, PieceScoreField = 2, PieceTypeField = 3;
    private const int TrainerUnkIdField = 40, TrainerBosIdField = 41, TrainerEosIdField = 42, TrainerPadIdField = 43;
    private const int TrainerBosPieceField = 46, TrainerEosPieceField = 47;

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
        try
        {
            return Parse(path, bytes);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: not a sentencepiece model (ModelProto): {e.Message}", e);
        }
    }

    private static SentencePieceModelFile Parse(string path, byte[] bytes)
    {
        var pieces = new List<string>();
        var types = new List<PieceType>();
        var scores = new List<float>();
        int trainerStart = -1, trainerLength = 0;
        var reader = new WireReader(bytes, 0, bytes.Length);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            if (field == ModelPiecesField && wire == 2)
            {
                var (start, length) = reader.ReadLengthDelimited();
                var (text, score, type) = ParsePiece(bytes, start, length);
                pieces.Add(text);
                scores.Add(score);
                types.Add(type);
            }
            else if (field == ModelTrainerSpecField && wire == 2)
            {
                (trainerStart, trainerLength) = reader.ReadLengthDelimited();
            }
            else
            {
                reader.Skip(wire);
            }
        }
        if (pieces.Count == 0)
            throw new FormatException("it has no pieces");

        int unk = 0, bos = 1, eos = 2, pad = -1;
        string eosPiece = "</s>";
        if (trainerStart >= 0)
        {
            var t = new WireReader(bytes, trainerStart, trainerLength);
            while (!t.AtEnd)
            {
                var (field, wire) = t.ReadTag();
                switch (field)
                {
                    case TrainerUnkIdField when wire == 0: unk = t.ReadInt32(); break;
                    case TrainerBosIdField when wire == 0: bos = t.ReadInt32(); break;
                    case TrainerEosIdField when wire == 0: eos = t.ReadInt32(); break;
                    case TrainerPadIdField when wire == 0: pad = t.ReadInt32(); break;
                    case TrainerEosPieceField when wire == 2:
                        var (s, l) = t.ReadLengthDelimited();
                        eosPiece = Encoding.UTF8.GetString(bytes, s, l);
                        break;
                    default: t.Skip(wire); break;
                }
            }
        }
        if ((uint)unk >= (uint)pieces.Count)
            throw new FormatException($"unk_id {unk} is outside the {pieces.Count} pieces");
        if ((uint)eos >= (uint)pieces.Count)
            throw new FormatException($"eos_id {eos} is outside the {pieces.Count} pieces (T5 needs an eos token)");

        return new SentencePieceModelFile
        {
            Path = path,
            Pieces = pieces.ToArray(),
            Types = types.ToArray(),
            Scores = scores.ToArray(),
            UnkId = unk,
            BosId = bos,
            EosId = eos,
            PadId = pad,
            EosPiece = eosPiece,
            PatchedBytes = bos >= 0 && bos < pieces.Count ? bytes : PatchBos(bytes, eos, eosPiece),
        };
    }

    private static (string Text, float Score, PieceType Type) ParsePiece(byte[] bytes, int start, int length)
    {
        string text = "";
        float score = 0;
        var type = PieceType.Normal;
        var r = new WireReader(bytes, start, length);
        while (!r.AtEnd)
        {
            var (field, wire) = r.ReadTag();
            if (field == PieceTextField && wire == 2)
            {
                var (s, l) = r.ReadLengthDelimited();
                text = Encoding.UTF8.GetString(bytes, s, l);
            }
            else if (field == PieceScoreField && wire == 5)
            {
                score = r.ReadFloat();
            }
            else if (field == PieceTypeField && wire == 0)
            {
                type = (PieceType)r.ReadInt32();
            }
            else
            {
                r.Skip(wire);
            }
        }
        return (text, score, type);
    }

    /// <summary>Re-emits the ModelProto with bos_id/bos_piece appended to its trainer spec.</summary>
    private static byte[] PatchBos(byte[] bytes, int eosId, string eosPiece)
    {
        var extra = new MemoryStream();
        WriteTag(extra, TrainerBosIdField, 0);
        WriteVarint(extra, (ulong)eosId);
        byte[] piece = Encoding.UTF8.GetBytes(eosPiece);
        WriteTag(extra, TrainerBosPieceField, 2);
        WriteVarint(extra, (ulong)piece.Length);
        extra.Write(piece);

        var output = new MemoryStream(bytes.Length + 32);
        bool patched = false;
        var reader = new WireReader(bytes, 0, bytes.Length);
        while (!reader.AtEnd)
        {
            int fieldStart = reader.Position;
            var (field, wire) = reader.ReadTag();
            if (field == ModelTrainerSpecField && wire == 2 && !patched)
            {
                var (start, length) = reader.ReadLengthDelimited();
                WriteTag(output, ModelTrainerSpecField, 2);
                WriteVarint(output, (ulong)(length + extra.Length));
                output.Write(bytes, start, length);
                extra.WriteTo(output);
                patched = true;
            }
            else
            {
                reader.Skip(wire);
                output.Write(bytes, fieldStart, reader.Position - fieldStart);
            }
        }
        if (!patched)
        {
            WriteTag(output, ModelTrainerSpecField, 2);
            WriteVarint(output, (ulong)extra.Length);
            extra.WriteTo(output);
        }
        return output.ToArray();
    }

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }

    /// <summary>Protobuf wire-format reader over a byte range; throws <see cref="FormatException"/> on truncation.</summary>
    private struct WireReader(byte[] data, int start, int length)
    {
        private readonly int _end = start + length;
        public int Position { get; private set; } = start;
        public readonly bool AtEnd => Position >= _end;

        public (int Field, int Wire) ReadTag()
        {
            ulong tag = ReadVarint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public int ReadInt32() => unchecked((int)ReadVarint());

        public float ReadFloat()
        {
            Advance(4);
            return BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(Position - 4, 4)));
        }

        public ulong ReadVarint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (Position >= _end) throw new FormatException("truncated varint");
                byte b = data[Position++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw new FormatException("malformed varint");
        }

        public (int Start, int Length) ReadLengthDelimited()
        {
            ulong len = ReadVarint();
            if (len > (ulong)(_end - Position)) throw new FormatException("truncated length-delimited field");
            int s = Position;
            Position += (int)len;
            return (s, (int)len);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: ReadVarint(); break;
                case 1: Advance(8); break;
                case 2: ReadLengthDelimited(); break;
                case 5: Advance(4); break;
                default: throw new FormatException($"unsupported wire type {wire}");
            }
        }

        private void Advance(int n)
        {
            if (n > _end - Position) throw new FormatException("truncated field");
            Position += n;
        }
    }
}
