using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Generation;

/// <summary>The subset of transformers' GenerationConfig that this runtime implements (no sampling).</summary>
public sealed record GenerationOptions
{
    /// <summary>New tokens after the decoder start token (transformers' default max_length 20 with a 1-token prompt).</summary>
    public int MaxNewTokens { get; init; } = 19;

    /// <summary>The most new tokens one decode can hold: the session's length limit (2^16, as for every sequence
    /// length the ABI takes).</summary>
    public const int MaxNewTokensLimit = 1 << 16;

    /// <summary>1 = greedy search.</summary>
    public int NumBeams { get; init; } = 1;

    public BeamEarlyStopping EarlyStopping { get; init; } = BeamEarlyStopping.Heuristic;

    /// <summary>Exponent on the generated length (EOS counted, start token not) that divides a finished beam's
    /// summed log-probability.</summary>
    public double LengthPenalty { get; init; } = 1.0;

    /// <summary>Prompts per generate call in <see cref="Text2TextPipeline"/> (each batch padded by <see cref="PromptPadding"/>).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>
    /// The length a batch's prompts pad to in <see cref="Text2TextPipeline"/>: its longest prompt by default; bucketed,
    /// a static-shape device compiles one decode program per bucket rather than per batch length. Never shorter than
    /// the longest prompt (prompts are not cut). Padding positions are masked and change no result.
    /// </summary>
    public PaddingOptions PromptPadding { get; init; } = PaddingOptions.Longest();

    public int DecoderStartTokenId { get; init; }

    public int EosTokenId { get; init; } = 1;

    public int PadTokenId { get; init; }

    public IReadOnlyList<ILogitsProcessor> LogitsProcessors { get; init; } = [];

    /// <summary>Options with the special tokens of <paramref name="config"/>.</summary>
    public static GenerationOptions For(T5ModelConfig config) => new()
    {
        DecoderStartTokenId = config.DecoderStartTokenId,
        EosTokenId = config.EosTokenId,
        PadTokenId = config.PadTokenId,
    };

    /// <summary>Throws when a field is out of range for a decoder with <paramref name="vocabSize"/> logits.</summary>
    public void Validate(int vocabSize)
    {
        if (MaxNewTokens is < 1 or > MaxNewTokensLimit)
            throw new ArgumentException($"max new tokens is {MaxNewTokens}; expected 1..{MaxNewTokensLimit}.", nameof(MaxNewTokens));
        if (NumBeams < 1)
            throw new ArgumentException($"NumBeams must be at least 1, got {NumBeams}.", nameof(NumBeams));
        if (BatchSize < 1)
            throw new ArgumentException($"BatchSize must be at least 1, got {BatchSize}.", nameof(BatchSize));
        ArgumentNullException.ThrowIfNull(PromptPadding, nameof(PromptPadding));
        PromptPadding.Validate(nameof(PromptPadding));
        if (!double.IsFinite(LengthPenalty))
            throw new ArgumentException($"LengthPenalty must be finite, got {LengthPenalty}.", nameof(LengthPenalty));
        if (vocabSize < 2)
            throw new ArgumentException($"the decoder's vocab size must be at least 2, got {vocabSize}.", nameof(vocabSize));
        CheckToken(DecoderStartTokenId, nameof(DecoderStartTokenId), vocabSize);
        CheckToken(EosTokenId, nameof(EosTokenId), vocabSize);
        CheckToken(PadTokenId, nameof(PadTokenId), vocabSize);
    }

    /// <summary>The length a batch whose longest prompt has <paramref name="longest"/> tokens pads to.</summary>
    public int PromptLength(int longest) => Math.Max(longest, PromptPadding.PaddedLength(longest));

    private static void CheckToken(int id, string name, int vocabSize)
    {
        if (id < 0 || id >= vocabSize)
            throw new ArgumentException($"{name} {id} is outside the decoder's vocab [0, {vocabSize}).", name);
    }
}
