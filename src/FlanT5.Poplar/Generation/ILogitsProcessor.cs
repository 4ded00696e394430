namespace FlanT5.Poplar.Generation;

/// <summary>
/// Edits one row's next-token scores in place before selection, like a transformers <c>LogitsProcessor</c>.
/// Greedy search passes raw logits; beam search passes log-probabilities (transformers applies processors after
/// <c>log_softmax</c> in beam search). None are used by default, as for Flan-T5's generation config.
/// </summary>
public interface ILogitsProcessor
{
    /// <param name="sequence">The row's tokens so far, starting with the decoder start token.</param>
    /// <param name="scores">[vocab] scores of the next token.</param>
    void Process(ReadOnlySpan<int> sequence, Span<float> scores);
}
