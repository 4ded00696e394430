using System.Diagnostics;
using System.Text;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Tokenization;

/// <summary>
/// The tokenizer equals sentencepiece's own encoding (the spm_encode program) plus eos on generated plain text:
/// random words, accented and unknown characters (CJK, emoji), punctuation and whitespace runs, and runs of one
/// character that several segmentations cover with the same score (sentencepiece's tie-break decides them).
/// </summary>
/// <remarks>
/// spm_encode is run, not replayed from a stored file: it is the reference implementation itself, and the bootstrap
/// installs it (Debian package 'sentencepiece') with the rest of what the tests need, so its absence is a broken
/// setup and fails the tests instead of skipping them.
/// </remarks>
public class SentencePieceParityTests
{
    private static readonly string[] Words =
    [
        "the", "a", "man", "woman", "is", "walking", "dog", "beach", "premise:", "hypothesis:", "mnli", "Nobody",
        "singing", "song", "market", "UPPER", "MiXeD", "don't", "y'all", "3.14", "1e-6", "http://x.org/p?q=1",
        "café", "naïve", "Zürich", "Straße", "Ærø", "façade", "日本語", "テキスト", "😀", "🚀", "ﬁ", "①", "Ⅻ", "—",
        "–", "\u00a0", "\u200b", "<", ">", "<s", "a<b>c", "(", ")", "\"q\"", "...", "!!!", "ÅÄÖ", "ß", "Ω", "ж", "עברית",
    ];

    private static readonly string[] Separators = [" ", " ", " ", "  ", "   ", "\t", " \t ", ""];

    private static string FindSpmEncode()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin"))
        {
            string candidate = Path.Combine(dir, "spm_encode");
            if (dir.Length > 0 && File.Exists(candidate)) return candidate;
        }
        Assert.Fail("spm_encode is not installed (Debian package 'sentencepiece'); `dotnet pwsh build.ps1 bootstrap` installs it");
        return "";
    }

    /// <summary>Every character c with a piece of two or more c's (after an optional '▁'), and those pieces' count.</summary>
    private static Dictionary<char, int> CharactersWithRunPieces(T5Tokenizer tok)
    {
        var result = new Dictionary<char, int>();
        for (int id = 0; id < tok.SentencePieceSize; id++)
        {
            if (tok.IsSpecial(id)) continue;
            string body = tok.IdToToken(id).TrimStart('\u2581');
            if (body.Length >= 2 && body.All(c => c == body[0]))
                result[body[0]] = result.GetValueOrDefault(body[0]) + 1;
        }
        return result;
    }

    private static List<string> GenerateLines(int count, int seed, IReadOnlyList<char>? runs = null)
    {
        var rng = new Random(seed);
        var lines = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            if (rng.Next(6) == 0) sb.Append(Separators[rng.Next(Separators.Length)]);
            int words = rng.Next(0, 25);
            for (int w = 0; w < words; w++)
            {
                if (w > 0) sb.Append(Separators[rng.Next(Separators.Length)]);
                if (runs is not null && rng.Next(6) == 0)
                {
                    // A run of one character that has multi-character pieces: equal-score segmentations.
                    sb.Append(runs[rng.Next(runs.Count)], 1 + rng.Next(12));
                }
                else if (rng.Next(8) == 0)
                {
                    // A random code point from ranges the tiny vocabulary mostly lacks.
                    int[] starts = [0x00C0, 0x0400, 0x3040, 0x4E00, 0x1F600, 0x0600];
                    int cp = starts[rng.Next(starts.Length)] + rng.Next(64);
                    sb.Append(char.ConvertFromUtf32(cp));
                }
                else
                {
                    sb.Append(Words[rng.Next(Words.Length)]);
                }
            }
            if (rng.Next(6) == 0) sb.Append(Separators[rng.Next(Separators.Length)]);
            lines.Add(sb.ToString());
        }
        return lines;
    }

    private static List<int[]> RunSpmEncode(string spmEncode, IReadOnlyList<string> lines)
    {
        var psi = new ProcessStartInfo(spmEncode, ["--model", TokenizerFixtures.SpieceModel, "--output_format=id"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        foreach (var line in lines) process.StandardInput.Write(line + "\n");
        process.StandardInput.Close();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"spm_encode failed: {error.Result}");
        var result = output.Result.Split('\n').SkipLast(1)
            .Select(l => l.Length == 0 ? [] : l.Split(' ').Select(int.Parse).ToArray()).ToList();
        Assert.That(result, Has.Count.EqualTo(lines.Count), "spm_encode answered a different number of lines");
        return result;
    }

    [TestCase(600, 20261128, false)]
    [TestCase(2000, 20261202, true)]
    public void EncodeEqualsSpmEncodePlusEosOnGeneratedText(int count, int seed, bool withRuns)
    {
        var tok = TokenizerFixtures.Tokenizer;
        var lines = GenerateLines(count, seed, withRuns ? CharactersWithRunPieces(tok).Keys.Order().ToList() : null);
        var expected = RunSpmEncode(FindSpmEncode(), lines);
        int unkRuns = 0, differing = 0;
        string firstDifference = "";
        for (int i = 0; i < lines.Count; i++)
        {
            var ours = tok.Encode(lines[i]);
            var theirs = expected[i].Append(tok.EosId).ToArray();
            if (!ours.SequenceEqual(theirs) && differing++ == 0)
                firstDifference = $"line {i}: '{lines[i]}': ours [{string.Join(' ', ours)}], spm_encode [{string.Join(' ', theirs)}]";
            unkRuns += expected[i].Count(id => id == tok.UnkId);
        }
        TestContext.Out.WriteLine($"{lines.Count - differing} of {lines.Count} lines equal spm_encode + eos");
        Assert.That(differing, Is.Zero, $"{differing} of {lines.Count} lines differ; first {firstDifference}");
        Assert.That(unkRuns, Is.GreaterThan(50), "the generated text should exercise unknown characters");
    }

    [Test]
    public void RunsOfOneCharacterEqualSpmEncodeAtEveryLengthFrom1To12()
    {
        var tok = TokenizerFixtures.Tokenizer;
        var characters = CharactersWithRunPieces(tok);
        // The bundled vocabulary has 18 such characters ('-' with 9 run pieces, '=' with 7, '*', '`', '#', ...).
        Assert.That(characters, Has.Count.EqualTo(18));
        var lines = new List<string>();
        foreach (char c in characters.Keys.Order())
        {
            for (int length = 1; length <= 12; length++)
            {
                string run = new(c, length);
                // Alone (after sentencepiece's '▁' prefix), glued to a word, and between words.
                lines.AddRange([run, "a" + run, $"x {run} y"]);
            }
        }
        var expected = RunSpmEncode(FindSpmEncode(), lines);
        var differing = Enumerable.Range(0, lines.Count)
            .Where(i => !tok.EncodePlain(lines[i]).SequenceEqual(expected[i]))
            .Select(i => $"'{lines[i]}': ours [{string.Join(' ', tok.EncodePlain(lines[i]))}], spm_encode [{string.Join(' ', expected[i])}]")
            .ToList();
        Assert.That(differing, Is.Empty, $"{differing.Count} of {lines.Count} runs differ:\n" + string.Join("\n", differing.Take(10)));
    }
}
