using System.Text;
using System.Text.RegularExpressions;

namespace FlanT5.SdkConformance;

/// <summary>
/// C++ text as the list and clang spell it, cut into tokens and put back in one canonical spelling, so that
/// `const poplar::Tensor &` and `const poplar::Tensor&`, or `unsigned` and `unsigned int`, compare equal.
/// </summary>
internal static partial class CppText
{
    [GeneratedRegex("""\G(?:(?<word>[A-Za-z_][A-Za-z0-9_]*)|(?<number>[0-9][0-9A-Za-z_.']*)|(?<text>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?<scope>::)|(?<space>\s+)|(?<punct>\.\.\.|.))""")]
    private static partial Regex TokenPattern();

    [GeneratedRegex("^([0-9]+)[uUlL]+$")]
    private static partial Regex IntegerSuffix();

    private static readonly HashSet<string> IntegerWords = ["int", "char", "short", "long"];

    /// <summary>The tokens of a piece of C++ (whitespace dropped).</summary>
    public static List<string> Tokens(string text)
    {
        var tokens = new List<string>();
        foreach (Match m in TokenPattern().Matches(text))
        {
            if (!m.Groups["space"].Success) tokens.Add(m.Value);
        }
        return tokens;
    }

    /// <summary>One spelling of a type: no global `::`, no `typename`/elaborated keywords, `unsigned` is `unsigned int`,
    /// `long int` is `long`, spaces only between words.</summary>
    public static string NormaliseType(string type, IReadOnlyDictionary<string, string>? rename = null)
    {
        var tokens = Tokens(type);
        var result = new List<string>(tokens.Count + 2);
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (t == "::" && (result.Count == 0 || result[^1] is "<" or "," or "(" or "const" or "volatile")) continue;
            if (t is "typename" or "struct" or "class" or "enum" or "union") continue;
            if (t == "int" && result.Count > 0 && result[^1] is "long" or "short") continue;
            if (rename is not null && rename.TryGetValue(t, out var renamed) && (result.Count == 0 || result[^1] != "::")) t = renamed;
            result.Add(t);
            if (t == "unsigned" && (i + 1 >= tokens.Count || !IntegerWords.Contains(tokens[i + 1]))) result.Add("int");
        }
        return Join(result);
    }

    /// <summary>One spelling of a default argument: as a type, and namespace qualifiers and integer suffixes dropped
    /// (`poplar::TensorCloneMethod::X` equals `TensorCloneMethod::X` written inside namespace poplar).</summary>
    public static string NormaliseValue(string value, IReadOnlySet<string> namespaces)
    {
        var tokens = Tokens(NormaliseType(value));
        var result = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if (i + 1 < tokens.Count && tokens[i + 1] == "::" && namespaces.Contains(t) && (result.Count == 0 || result[^1] != "::"))
            {
                i++;
                continue;
            }
            if (t == "::" && (result.Count == 0 || !IsWord(result[^1]) && result[^1] != ">")) continue;
            var suffixed = IntegerSuffix().Match(t);
            result.Add(suffixed.Success ? suffixed.Groups[1].Value : t);
        }
        return Join(result);
    }

    /// <summary>Drops template argument lists that qualify a nested name: `A<T>::b` becomes `A::b`.</summary>
    public static string WithoutScopeTemplateArguments(string normalised)
    {
        var tokens = Tokens(normalised);
        var result = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] == "<" && CloseOf(tokens, i) is var close and > 0 && close + 1 < tokens.Count && tokens[close + 1] == "::")
            {
                i = close;
                continue;
            }
            result.Add(tokens[i]);
        }
        return Join(result);
    }

    private static int CloseOf(List<string> tokens, int open)
    {
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            if (tokens[i] == "<") depth++;
            else if (tokens[i] == ">" && --depth == 0) return i;
        }
        return -1;
    }

    public static string Join(IEnumerable<string> tokens)
    {
        var text = new StringBuilder();
        string? previous = null;
        foreach (var t in tokens)
        {
            if (previous is not null && IsWord(previous) && IsWord(t)) text.Append(' ');
            text.Append(t);
            previous = t;
        }
        return text.ToString();
    }

    private static bool IsWord(string token) => token.Length > 0 && (char.IsAsciiLetterOrDigit(token[0]) || token[0] == '_');

    /// <summary>Splits at commas outside brackets and quotes: `a<b, c>, d` gives `a<b, c>` and `d`.</summary>
    public static List<string> SplitTopLevel(string text, char separator = ',')
    {
        var parts = new List<string>();
        var depth = 0;
        var start = 0;
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is not null)
            {
                if (c == '\\') i++;
                else if (c == quote) quote = null;
                continue;
            }
            switch (c)
            {
                case '"' or '\'': quote = c; break;
                case '<' or '(' or '{' or '[': depth++; break;
                case '>' or ')' or '}' or ']': depth--; break;
                default:
                    if (c == separator && depth == 0)
                    {
                        parts.Add(text[start..i].Trim());
                        start = i + 1;
                    }
                    break;
            }
        }
        var last = text[start..].Trim();
        if (last.Length > 0 || parts.Count > 0) parts.Add(last);
        return parts;
    }

    /// <summary>The index of the first `=` outside brackets and quotes that is not part of `==`, `<=`, `>=` or `!=`.</summary>
    public static int TopLevelEquals(string text)
    {
        var depth = 0;
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is not null)
            {
                if (c == '\\') i++;
                else if (c == quote) quote = null;
                continue;
            }
            switch (c)
            {
                case '"' or '\'': quote = c; break;
                case '(' or '{' or '[': depth++; break;
                case ')' or '}' or ']': depth--; break;
                case '=' when depth == 0:
                    var before = i > 0 ? text[i - 1] : ' ';
                    var after = i + 1 < text.Length ? text[i + 1] : ' ';
                    if (after != '=' && before is not ('=' or '<' or '>' or '!')) return i;
                    if (after == '=') i++;
                    break;
            }
        }
        return -1;
    }
}
