using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace FlanT5.Poplar.Tokenization;

/// <summary>
/// Flan-T5's tokenizer: sentencepiece (spiece.model; Microsoft.ML.Tokenizers normalizes, <see cref="UnigramSegmenter"/>
/// segments as sentencepiece does, ties included) wrapped to behave exactly like Hugging Face's T5 tokenizer. Encoding appends eos; special-token text inside the text (<c>&lt;/s&gt;</c>,
/// <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>, <c>&lt;extra_id_N&gt;</c>) becomes its id and the text between is encoded
/// by sentencepiece segment by segment; a run of unknown characters is one <c>&lt;unk&gt;</c>. The sentinels follow the
/// sentencepiece vocabulary in reverse: <c>&lt;extra_id_0&gt;</c> is the highest id. Thread-safe; immutable.
/// </summary>
public sealed class T5Tokenizer : Generation.ITextTokenizer
{
    private readonly SentencePieceTokenizer _sentencePiece;
    private readonly UnigramSegmenter _segmenter;
    private readonly SpecialTokenScanner _scanner;
    private readonly string[] _tokens;      // id → token text (pieces, then sentinels)
    private readonly bool[] _isSpecial;     // skipped by Decode(skipSpecialTokens: true)

    private T5Tokenizer(SentencePieceModelFile model, int extraIds)
    {
        if (extraIds < 0)
            throw new ArgumentOutOfRangeException(nameof(extraIds), $"extra ids must not be negative, got {extraIds}");
        try
        {
            using var stream = new MemoryStream(model.PatchedBytes, writable: false);
            _sentencePiece = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or NotSupportedException or IOException)
        {
            throw new InvalidDataException($"{model.Path}: Microsoft.ML.Tokenizers cannot load this sentencepiece model: {e.Message}", e);
        }
        if (_sentencePiece.ByteFallback)
            throw new InvalidDataException($"{model.Path}: byte-fallback models are not T5 tokenizers");
        _segmenter = new UnigramSegmenter(model);

        SentencePieceSize = model.Pieces.Length;
        ExtraIds = extraIds;
        EosId = model.EosId;
        UnkId = model.UnkId;
        PadId = model.PadId;
        ModelPath = model.Path;

        _tokens = new string[VocabSize];
        _isSpecial = new bool[VocabSize];
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < SentencePieceSize; i++)
        {
            _tokens[i] = model.Pieces[i];
            bool control = model.Types[i] is SentencePieceModelFile.PieceType.Control or SentencePieceModelFile.PieceType.Unknown;
            if (control || i == EosId || i == UnkId || i == PadId)
            {
                _isSpecial[i] = true;
                if (i == EosId || i == UnkId || i == PadId)
                    specials[model.Pieces[i]] = i;
            }
        }
        for (int k = 0; k < extraIds; k++)
        {
            int id = ExtraId(k);
            _tokens[id] = $"<extra_id_{k}>";
            _isSpecial[id] = true;
            specials[_tokens[id]] = id;
        }
        _scanner = new SpecialTokenScanner(specials);
        SpecialTokens = specials;
    }

    /// <summary>Loads spiece.model and, if present, tokenizer_config.json (for the number of sentinels) from a model folder.</summary>
    public static T5Tokenizer FromDirectory(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory))
            throw new DirectoryNotFoundException($"{modelDirectory}: no such folder (expected a T5 model folder with spiece.model)");
        string spiece = Path.Combine(modelDirectory, "spiece.model");
        if (!File.Exists(spiece))
            throw new FileNotFoundException($"{modelDirectory}: no spiece.model (the T5 sentencepiece model) in this folder", spiece);
        return FromModelFile(spiece, ReadExtraIds(Path.Combine(modelDirectory, "tokenizer_config.json")));
    }

    /// <summary>Loads a sentencepiece model file; <paramref name="extraIds"/> sentinels follow its pieces.</summary>
    public static T5Tokenizer FromModelFile(string spieceModelPath, int extraIds = 100) =>
        new(SentencePieceModelFile.Read(spieceModelPath), extraIds);

    public string ModelPath { get; }

    /// <summary>Pieces in spiece.model (32000 for Flan-T5).</summary>
    public int SentencePieceSize { get; }

    /// <summary>Number of sentinel tokens <c>&lt;extra_id_0..N-1&gt;</c> (100 for T5).</summary>
    public int ExtraIds { get; }

    /// <summary>Ids the tokenizer can produce: pieces + sentinels (32100 for Flan-T5; the model's vocab may be larger).</summary>
    public int VocabSize => SentencePieceSize + ExtraIds;

    public int EosId { get; }
    public int UnkId { get; }

    /// <summary>The pad id (0 for T5); -1 when the model has none.</summary>
    public int PadId { get; }

    /// <summary>Special-token text recognised inside text, with its id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The id of <c>&lt;extra_id_k&gt;</c>: sentinels count down from the top of the vocabulary.</summary>
    public int ExtraId(int k)
    {
        if ((uint)k >= (uint)ExtraIds)
            throw new ArgumentOutOfRangeException(nameof(k), $"sentinel index {k} is outside 0..{ExtraIds - 1}");
        return SentencePieceSize + ExtraIds - 1 - k;
    }

    /// <summary>The token text of an id (a sentencepiece piece with '▁', or a special token).</summary>
    public string IdToToken(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside 0..{VocabSize - 1}");
        return _tokens[id];
    }

    public bool IsSpecial(int id) => (uint)id < (uint)VocabSize && _isSpecial[id];

    /// <summary>Encodes text as Hugging Face's T5 tokenizer does, eos appended.</summary>
    int[] Generation.ITextTokenizer.Encode(string text) => Encode(text);

    public int[] Encode(string text, bool addEos = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        Encode(text.AsSpan(), ids, addEos);
        return ids.ToArray();
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output, bool addEos = true)
    {
        int pos = 0;
        while (_scanner.TryFindNext(text, pos, out int index, out int length, out int id))
        {
            EncodeSegment(text[pos..index], output);
            output.Add(id);
            pos = index + length;
        }
        EncodeSegment(text[pos..], output);
        if (addEos)
            output.Add(EosId);
    }

    /// <summary>sentencepiece's own encoding of plain text (no special-token handling, no eos): spm_encode's output.</summary>
    public int[] EncodePlain(string text)
    {
        var ids = new List<int>();
        EncodeSegment(text, ids);
        return ids.ToArray();
    }

    private void EncodeSegment(ReadOnlySpan<char> segment, List<int> output)
    {
        if (segment.IsEmpty)
            return;
        // Microsoft.ML.Tokenizers 2.0.1 normalizes as sentencepiece does (the model's NFKC map, whitespace, the '▁'
        // prefix) but breaks some ties between equal-score segmentations the other way: its normalized text is kept,
        // its segmentation is not. (Its public Normalizer lacks the NFKC map, so the encoder's own output is used.)
        _sentencePiece.EncodeToTokens(segment, out string? normalized, addBeginningOfSentence: false, addEndOfSentence: false,
            considerPreTokenization: false, considerNormalization: true);
        _segmenter.Segment(normalized ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers returned no normalized text"), output);
    }

    /// <summary>
    /// Encodes several texts (in parallel when there are many) and pads them into one batch with
    /// <paramref name="padding"/>; truncation keeps eos last as Hugging Face does.
    /// </summary>
    public PaddedBatch EncodeBatch(IReadOnlyList<string> texts, PaddingOptions padding, bool addEos = true)
    {
        ArgumentNullException.ThrowIfNull(texts);
        padding.Validate(nameof(padding));
        var rows = new int[texts.Count][];
        if (texts.Count >= 64)
            Parallel.For(0, texts.Count, i => rows[i] = Encode(texts[i], addEos));
        else
            for (int i = 0; i < texts.Count; i++) rows[i] = Encode(texts[i], addEos);
        return Pad(rows, padding, PadId < 0 ? 0 : PadId, addEos ? EosId : -1, "text");
    }

    /// <summary>
    /// Pads (and truncates) rows of ids into a <see cref="PaddedBatch"/>, as if its longest row had at least
    /// <paramref name="longestElsewhere"/> tokens (the longest of rows another host instance holds).
    /// </summary>
    internal static PaddedBatch Pad(IReadOnlyList<int[]> rows, PaddingOptions padding, int padId, int eosId, string what,
        int longestElsewhere = 0)
    {
        int cap = padding.MaxTokens;
        int longest = longestElsewhere;
        for (int r = 0; r < rows.Count; r++)
        {
            int n = rows[r].Length;
            if (n > cap && !padding.Truncate)
                throw new ArgumentException($"{what} {r} has {n} tokens, more than the {cap} allowed (truncation is off)");
            longest = Math.Max(longest, n);
        }
        int length = padding.PaddedLength(longest);
        var ids = new int[rows.Count * length];
        var mask = new int[rows.Count * length];
        if (padId != 0) ids.AsSpan().Fill(padId);
        for (int r = 0; r < rows.Count; r++)
        {
            var src = rows[r];
            int n = Math.Min(src.Length, Math.Min(cap, length));
            var dst = ids.AsSpan(r * length, n);
            src.AsSpan(0, n).CopyTo(dst);
            if (n < src.Length && eosId >= 0 && src[^1] == eosId && n > 0)
                dst[n - 1] = eosId;
            mask.AsSpan(r * length, n).Fill(1);
        }
        return new PaddedBatch(rows.Count, length, ids, mask);
    }

    /// <summary>
    /// Decodes ids as Hugging Face does: pieces joined, '▁' becomes a space (dropped in the first token), special
    /// tokens kept as their text or skipped; ids past the vocabulary are dropped, as the tokenizers library does.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var sb = new StringBuilder(ids.Length * 4);
        bool first = true;
        foreach (int id in ids)
        {
            if (id < 0)
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is negative (labels use -100 for ignored positions; strip them before decoding)");
            if (id >= VocabSize || (skipSpecialTokens && _isSpecial[id]))
                continue;
            foreach (char c in _tokens[id])
            {
                if (c == '\u2581')
                {
                    if (!first) sb.Append(' ');
                }
                else
                {
                    sb.Append(c);
                }
            }
            first = false;
        }
        return sb.ToString();
    }

    private static int ReadExtraIds(string tokenizerConfigPath)
    {
        const int t5Default = 100;
        if (!File.Exists(tokenizerConfigPath))
            return t5Default;
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(tokenizerConfigPath));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{tokenizerConfigPath}: not valid JSON: {e.Message}", e);
        }
        if (root is not JsonObject obj)
            throw new InvalidDataException($"{tokenizerConfigPath}: expected a JSON object");
        if (obj["extra_ids"] is JsonValue v)
        {
            if (!v.TryGetValue(out int n) || n < 0)
                throw new InvalidDataException($"{tokenizerConfigPath}: 'extra_ids' must be a non-negative integer, got {v.ToJsonString()}");
            return n;
        }
        // Without extra_ids, count the sentinels listed among the special tokens.
        int count = 0;
        foreach (string key in new[] { "additional_special_tokens", "extra_special_tokens" })
        {
            if (obj[key] is JsonArray list)
                count = Math.Max(count, list.Count(t => t is JsonValue s && s.TryGetValue(out string? text) && text.StartsWith("<extra_id_", StringComparison.Ordinal)));
        }
        return count > 0 ? count : t5Default;
    }
}
