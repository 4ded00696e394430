namespace FlanT5.Poplar.Data;

/// <summary>An MNLI gold label; the values are Hugging Face's class ids (glue/mnli: 0, 1, 2).</summary>
public enum NliLabel
{
    Entailment = 0,
    Neutral = 1,
    Contradiction = 2,
}

/// <summary>The label words MNLI files use, which are also Flan-T5's target words.</summary>
public static class NliLabels
{
    /// <summary>The gold label of pairs without annotator consensus; such rows are skipped and counted.</summary>
    public const string NoGoldLabel = "-";

    public static string Word(NliLabel label) => label switch
    {
        NliLabel.Entailment => "entailment",
        NliLabel.Neutral => "neutral",
        NliLabel.Contradiction => "contradiction",
        _ => throw new ArgumentOutOfRangeException(nameof(label), $"not an MNLI label: {(int)label}"),
    };

    public static bool TryParse(ReadOnlySpan<char> word, out NliLabel label)
    {
        switch (word)
        {
            case "entailment": label = NliLabel.Entailment; return true;
            case "neutral": label = NliLabel.Neutral; return true;
            case "contradiction": label = NliLabel.Contradiction; return true;
            default: label = default; return false;
        }
    }
}
