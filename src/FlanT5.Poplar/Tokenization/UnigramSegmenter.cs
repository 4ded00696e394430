using System.Text;

namespace FlanT5.Poplar.Tokenization;

/// <summary>
/// sentencepiece's unigram segmentation of normalized text: the most probable sequence of pieces (Viterbi), with
/// sentencepiece's own arithmetic and tie-break, so equal-score segmentations come out as spm_encode emits them.
/// </summary>
/// <remarks>
/// The rule, from sentencepiece's optimized unigram encoder (the default since 0.1.9x): start positions are visited
/// left to right one character at a time; from each, every piece that matches is offered to the position where it
/// ends, and replaces the best path kept there only when its score is strictly greater. So among equal scores the
/// path whose last piece starts earliest (the longest last piece) wins, at every end position. Scores are kept as
/// float; a piece's candidate is summed in double and compared with the float kept, while an unknown character's
/// candidate is summed in float. A character that no one-character piece covers is offered as &lt;unk&gt; with the
/// lowest piece score minus 10. Runs of &lt;unk&gt; become one, as sentencepiece merges them.
/// </remarks>
internal sealed class UnigramSegmenter
{
    private const float UnknownPenalty = 10.0f;

    // A trie over UTF-16 code units: (node << 16 | code unit) → child node; _pieceAt[node] is the piece ending there.
    private readonly Dictionary<long, int> _children = [];
    private readonly List<int> _pieceAt = [-1];
    private readonly float[] _scores;
    private readonly bool[] _userDefined;
    private readonly int[] _utf8Length;
    private readonly float _unknownScore;
    private readonly float _maxScore;
    private readonly int _unknownId;

    public UnigramSegmenter(SentencePieceModelFile model)
    {
        _scores = model.Scores;
        _unknownId = model.UnkId;
        _userDefined = new bool[model.Pieces.Length];
        _utf8Length = new int[model.Pieces.Length];
        float min = float.MaxValue, max = float.Epsilon; // sentencepiece starts its maximum at FLT_MIN
        for (int id = 0; id < model.Pieces.Length; id++)
        {
            var type = model.Types[id];
            if (type == SentencePieceModelFile.PieceType.Normal)
            {
                min = Math.Min(min, _scores[id]);
                max = Math.Max(max, _scores[id]);
            }
            // Unused pieces are in sentencepiece's trie but skipped when matched: leaving them out is the same.
            if (type is SentencePieceModelFile.PieceType.Normal or SentencePieceModelFile.PieceType.UserDefined)
                Insert(model.Pieces[id], id);
            _userDefined[id] = type == SentencePieceModelFile.PieceType.UserDefined;
            _utf8Length[id] = Encoding.UTF8.GetByteCount(model.Pieces[id]);
        }
        _unknownScore = min - UnknownPenalty;
        _maxScore = max;
    }

    /// <summary>Appends the piece ids of <paramref name="normalized"/> (sentencepiece-normalized text) to <paramref name="output"/>.</summary>
    public void Segment(ReadOnlySpan<char> normalized, List<int> output)
    {
        int n = normalized.Length;
        if (n == 0) return;
        // Best path ending at each position (exclusive end): its score, where its last piece starts, that piece.
        var score = new float[n + 1];
        var startsAt = new int[n + 1];
        var piece = new int[n + 1];
        startsAt.AsSpan().Fill(-1);
        for (int start = 0; start < n;)
        {
            int charLength = char.IsHighSurrogate(normalized[start]) && start + 1 < n && char.IsLowSurrogate(normalized[start + 1]) ? 2 : 1;
            float here = score[start];
            bool coversOneCharacter = false;
            int node = 0;
            for (int end = start; end < n; end++)
            {
                if (!_children.TryGetValue(((long)node << 16) | normalized[end], out node)) break;
                int id = _pieceAt[node];
                if (id < 0) continue;
                int stop = end + 1;
                double pieceScore = _userDefined[id] ? _utf8Length[id] * _maxScore - 0.1 : _scores[id];
                double candidate = pieceScore + here;
                if (startsAt[stop] == -1 || candidate > score[stop])
                {
                    score[stop] = (float)candidate;
                    startsAt[stop] = start;
                    piece[stop] = id;
                }
                coversOneCharacter |= stop - start == charLength;
            }
            if (!coversOneCharacter)
            {
                int stop = start + charLength;
                float candidate = _unknownScore + here;
                if (startsAt[stop] == -1 || candidate > score[stop])
                {
                    score[stop] = candidate;
                    startsAt[stop] = start;
                    piece[stop] = _unknownId;
                }
            }
            start += charLength;
        }

        int first = output.Count;
        for (int end = n; end > 0; end = startsAt[end])
            output.Add(piece[end]);
        output.Reverse(first, output.Count - first);
        // A run of unknown characters is one <unk>.
        int write = first;
        for (int read = first; read < output.Count; read++)
        {
            if (output[read] == _unknownId && write > first && output[write - 1] == _unknownId) continue;
            output[write++] = output[read];
        }
        output.RemoveRange(write, output.Count - write);
    }

    private void Insert(string text, int id)
    {
        int node = 0;
        foreach (char c in text)
        {
            long key = ((long)node << 16) | c;
            if (!_children.TryGetValue(key, out int child))
            {
                child = _pieceAt.Count;
                _pieceAt.Add(-1);
                _children[key] = child;
            }
            node = child;
        }
        if (_pieceAt[node] < 0) _pieceAt[node] = id; // the first of duplicate pieces, as sentencepiece keeps
    }
}
