namespace FlanT5.Poplar.Tokenization;

/// <summary>
/// Finds T5's special-token text (<c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>, <c>&lt;extra_id_N&gt;</c>)
/// inside text, as Hugging Face's added-token split does: every special token starts with '&lt;' and ends at the
/// first '&gt;', so the leftmost '&lt;' that begins a known token is the match.
/// </summary>
internal sealed class SpecialTokenScanner
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxLength;

    public SpecialTokenScanner(IReadOnlyDictionary<string, int> tokens)
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (text, id) in tokens)
        {
            if (text.Length < 2 || text[0] != '<' || text[^1] != '>' || text.AsSpan(1, text.Length - 2).IndexOfAny('<', '>') >= 0)
                throw new ArgumentException($"special token '{text}' must have the form <name>");
            map[text] = id;
            _maxLength = Math.Max(_maxLength, text.Length);
        }
        _lookup = map.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Finds the first special token at or after <paramref name="start"/>; false when there is none.</summary>
    public bool TryFindNext(ReadOnlySpan<char> text, int start, out int index, out int length, out int id)
    {
        int pos = start;
        while (pos < text.Length)
        {
            int lt = text[pos..].IndexOf('<');
            if (lt < 0) break;
            lt += pos;
            var rest = text.Slice(lt + 1, Math.Min(_maxLength - 1, text.Length - lt - 1));
            int gt = rest.IndexOfAny('<', '>');
            if (gt >= 0 && rest[gt] == '>' && _lookup.TryGetValue(text.Slice(lt, gt + 2), out id))
            {
                index = lt;
                length = gt + 2;
                return true;
            }
            pos = lt + 1;
        }
        index = length = id = 0;
        return false;
    }
}
