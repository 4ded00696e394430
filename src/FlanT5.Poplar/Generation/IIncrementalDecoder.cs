namespace FlanT5.Poplar.Generation;

/// <summary>
/// A model that decodes one token per row at a time over a key/value cache (the native session's
/// <c>ft5_session_decode_*</c> calls). The searches are written against this so they can be tested without a device.
/// </summary>
public interface IIncrementalDecoder
{
    /// <summary>Logits per row returned by <see cref="Step"/> (the model's vocab, e.g. 32128 for Flan-T5).</summary>
    int VocabSize { get; }

    /// <summary>Runs the encoder on <paramref name="inputIds"/> [batch, srcLen] and starts an empty cache with
    /// <paramref name="batch"/> rows and room for <paramref name="maxSteps"/> tokens. Replaces any decode in progress.</summary>
    void Begin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int srcLen, int maxSteps);

    /// <summary>Feeds one token per current row and writes the next-token logits [rows, VocabSize].</summary>
    void Step(ReadOnlySpan<int> tokens, Span<float> logits);

    /// <summary>New row i = old row <c>rows[i]</c> (cache and encoder output); the row count becomes rows.Length.</summary>
    void Reorder(ReadOnlySpan<int> rows);

    /// <summary>Ends the decode and frees its cache.</summary>
    void End();

    /// <summary>The decodes about to begin, told up front so that a static-shape device compiles their programs at
    /// once rather than one by one when each first begins. A decoder without compiled shapes ignores it.</summary>
    void Prepare(IReadOnlyList<DecodeSize> decodes)
    {
    }
}
