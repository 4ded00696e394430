namespace FlanT5.Poplar.Generation;

/// <summary>Generated sequences, one per batch row, all of the same length and starting with the decoder start token
/// (transformers' <c>generate()</c> output); for beam search also each sequence's score.</summary>
public sealed class GenerationResult
{
    public GenerationResult(int[][] sequences, float[]? scores)
    {
        Sequences = sequences;
        Scores = scores;
    }

    /// <summary>[batch][length] token ids.</summary>
    public IReadOnlyList<int[]> Sequences { get; }

    /// <summary>Beam search: sum of log-probabilities / generated_length^length_penalty (HF <c>sequences_scores</c>);
    /// null for greedy search.</summary>
    public IReadOnlyList<float>? Scores { get; }
}
