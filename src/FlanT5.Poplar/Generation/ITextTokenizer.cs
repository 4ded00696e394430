namespace FlanT5.Poplar.Generation;

/// <summary>What <see cref="Text2TextPipeline"/> needs from a tokenizer (T5Tokenizer implements it).</summary>
public interface ITextTokenizer
{
    /// <summary>Token ids of <paramref name="text"/> as the model's input, with the trailing EOS (HF <c>tokenizer(text)</c>).</summary>
    int[] Encode(string text);

    /// <summary>Text of <paramref name="ids"/>; with <paramref name="skipSpecialTokens"/> pad/EOS/unk-like specials are dropped.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens);

    int PadId { get; }

    int EosId { get; }
}
