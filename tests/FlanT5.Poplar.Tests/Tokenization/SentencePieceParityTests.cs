using System.Diagnostics;
using System.Text;

namespace FlanT5.Poplar.Tests.Tokenization;

/// <summary>
/// The tokenizer equals sentencepiece's own encoding (the spm_encode program) plus eos on generated plain text:
/// random words, accented and unknown characters (CJK, emoji), punctuation and whitespace runs.
/// </summary>
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

    private static string? FindSpmEncode()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin"))
        {
            string candidate = Path.Combine(dir, "spm_encode");
            if (dir.Length > 0 && File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static List<string> GenerateLines(int count, int seed)
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
                if (rng.Next(8) == 0)
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

    [Test]
    public void EncodeEqualsSpmEncodePlusEosOnGeneratedText()
    {
        string? spm = FindSpmEncode();
        if (spm is null)
            Assert.Ignore("spm_encode (Debian package 'sentencepiece') is not installed; this parity test needs it");

        var lines = GenerateLines(600, seed: 20261128);
        var expected = RunSpmEncode(spm, lines);
        var tok = TokenizerFixtures.Tokenizer;
        int unkRuns = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            var ours = tok.Encode(lines[i]);
            Assert.That(ours, Is.EqualTo(expected[i].Append(tok.EosId).ToArray()), $"line {i}: '{lines[i]}'");
            unkRuns += expected[i].Count(id => id == tok.UnkId);
        }
        Assert.That(unkRuns, Is.GreaterThan(50), "the generated text should exercise unknown characters");
    }
}
