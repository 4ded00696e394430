namespace FlanT5.Poplar.Data;

/// <summary>One MNLI pair with its gold label. Prompt fields: premise, hypothesis, label (the label word).</summary>
public sealed record MnliExample(string Premise, string Hypothesis, NliLabel Label) : IPromptFields
{
    private static readonly string[] Names = ["premise", "hypothesis", "label"];

    public IEnumerable<string> FieldNames => Names;

    public bool TryGetField(string name, out string value)
    {
        value = name switch
        {
            "premise" => Premise,
            "hypothesis" => Hypothesis,
            "label" => NliLabels.Word(Label),
            _ => null!,
        };
        return value is not null;
    }
}
