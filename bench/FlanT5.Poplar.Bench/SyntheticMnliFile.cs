using System.Text;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// Writes an MNLI-shaped GLUE TSV of N pairs from templates, deterministically from a seed: sentence lengths near
/// MNLI's (premise ≈ 20 words, hypothesis ≈ 10), mixed vocabulary, punctuation, numbers and a few accented words.
/// </summary>
internal static class SyntheticMnliFile
{
    private static readonly string[] Subjects =
    [
        "The teacher", "A young woman", "The old fisherman", "Two children", "The committee", "A tourist from Berlin",
        "The airline", "Several engineers", "The mayor's office", "A nurse", "The café owner", "Our neighbours",
        "The agency", "A group of students", "The museum", "The pilot", "My grandmother", "The council", "A farmer",
    ];
    private static readonly string[] Verbs =
    [
        "announced", "painted", "repaired", "discussed", "visited", "ignored", "published", "photographed", "cleaned",
        "borrowed", "designed", "criticised", "delivered", "rebuilt", "explained", "organised", "sold", "measured",
    ];
    private static readonly string[] Objects =
    [
        "the new bridge", "a detailed report", "the broken fence", "three wooden boats", "the annual budget",
        "an unusual painting", "the hospital's east wing", "a small bakery", "the train schedule", "forty-two letters",
        "the village square", "a résumé", "the company's plans", "an old piano", "the river banks", "the harbour lights",
    ];
    private static readonly string[] Places =
    [
        "in the park", "near the station", "at the market", "on a busy street", "in a small village", "by the river",
        "inside the old library", "at the airport", "in downtown Chicago", "on the third floor", "behind the school",
    ];
    private static readonly string[] Times =
    [
        "after the election", "on Monday", "in March", "before sunrise", "during the storm", "last year",
        "in 1998", "twice a week", "after a long day at work", "without telling anyone", "despite the rain",
    ];
    private static readonly string[] Clauses =
    [
        "because the old one had collapsed", "although nobody had asked for it", "while the others were waiting outside",
        "and everyone seemed pleased with the result", "so that the visitors could see it", "which surprised the press",
        "even though it cost more than expected", "as part of a larger project",
    ];
    private static readonly string[] Hypotheses =
    [
        "{0} {1} something.", "Nobody {1} {2}.", "{0} did not do anything {3}.", "{2} was {1} {4}.",
        "{0} likes {2}.", "Someone was {3}.", "{0} {1} {2} twice.", "There was {2} {3}.",
    ];
    private static readonly string[] Labels = ["entailment", "neutral", "contradiction"];

    public static void Write(string path, int rows, int seed)
    {
        var rng = new Random(seed);
        string Pick(string[] a) => a[rng.Next(a.Length)];
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n");
        var premise = new StringBuilder();
        for (int i = 0; i < rows; i++)
        {
            string subject = Pick(Subjects), verb = Pick(Verbs), obj = Pick(Objects), place = Pick(Places), time = Pick(Times);
            premise.Clear().Append(subject).Append(' ').Append(verb).Append(' ').Append(obj).Append(' ').Append(place).Append(' ').Append(time);
            if (rng.Next(3) > 0) premise.Append(", ").Append(Pick(Clauses));
            premise.Append('.');
            if (rng.Next(4) == 0) premise.Append(' ').Append(Pick(Subjects)).Append(" later ").Append(Pick(Verbs)).Append(" it ").Append(Pick(Times)).Append('.');
            string hypothesis = string.Format(Pick(Hypotheses), subject, verb, obj, place, time);
            string label = Labels[rng.Next(3)];
            writer.Write($"{i}\t{100000 + i}\t{100000 + i}{label[0]}\tfiction\t-\t-\t-\t-\t{premise}\t{hypothesis}\t{label}\t{label}\n");
        }
    }
}
