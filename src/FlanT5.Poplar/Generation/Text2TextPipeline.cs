namespace FlanT5.Poplar.Generation;

/// <summary>
/// Prompt in, text out, like transformers' <c>text2text-generation</c> pipeline: tokenize each prompt (with EOS, no
/// truncation), pad each batch to its longest prompt (or its bucket, <see cref="GenerationOptions.PromptPadding"/>), generate (greedy when NumBeams is 1, else beam search), and
/// decode the best sequence without special tokens.
/// </summary>
public sealed class Text2TextPipeline
{
    private readonly IIncrementalDecoder _decoder;
    private readonly ITextTokenizer _tokenizer;

    public Text2TextPipeline(IIncrementalDecoder decoder, ITextTokenizer tokenizer, GenerationOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(defaults);
        _decoder = decoder;
        _tokenizer = tokenizer;
        Defaults = defaults;
    }

    /// <summary>Options used by <see cref="Generate(string)"/>.</summary>
    public GenerationOptions Defaults { get; }

    public string Generate(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Generate([prompt], Defaults)[0];
    }

    /// <summary>
    /// Texts for <paramref name="prompts"/> in order, generated <see cref="GenerationOptions.BatchSize"/> at a time.
    /// The decoder is told every decode first (<see cref="IIncrementalDecoder.Prepare"/>), so a static-shape device
    /// compiles them together.
    /// </summary>
    public IReadOnlyList<string> Generate(IReadOnlyList<string> prompts, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(_decoder.VocabSize);
        var batches = Batches(prompts, options).ToList();
        _decoder.Prepare(DecodesOf(batches, options));
        var texts = new List<string>(prompts.Count);
        foreach (var rows in batches)
        {
            int length = options.PromptLength(rows.Max(r => r.Length));
            GenerationResult result = GenerateIds(EncoderBatch.Pad(rows, _tokenizer.PadId, length), options);
            foreach (int[] sequence in result.Sequences)
                texts.Add(_tokenizer.Decode(sequence, skipSpecialTokens: true));
        }

        return texts;
    }

    /// <summary>The decodes the searches run for these batches: beam search begins with a batch's prompts and goes on
    /// with a row per beam.</summary>
    private static IReadOnlyList<DecodeSize> DecodesOf(IReadOnlyList<int[][]> batches, GenerationOptions options)
    {
        var sizes = new HashSet<DecodeSize>();
        foreach (var rows in batches)
        {
            int length = options.PromptLength(rows.Max(r => r.Length));
            sizes.Add(new DecodeSize(rows.Length, length, options.MaxNewTokens));
            if (options.NumBeams > 1) sizes.Add(new DecodeSize(rows.Length * options.NumBeams, length, options.MaxNewTokens));
        }
        return [.. sizes];
    }

    /// <summary>The prompts tokenized, <see cref="GenerationOptions.BatchSize"/> at a time.</summary>
    private IEnumerable<int[][]> Batches(IReadOnlyList<string> prompts, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        for (int start = 0; start < prompts.Count; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, prompts.Count - start);
            var rows = new int[count][];
            for (int i = 0; i < count; i++)
            {
                string prompt = prompts[start + i]
                    ?? throw new ArgumentException($"prompt {start + i} is null.", nameof(prompts));
                rows[i] = _tokenizer.Encode(prompt);
                if (rows[i].Length == 0)
                    throw new ArgumentException($"prompt {start + i} encodes to no tokens.", nameof(prompts));
            }
            yield return rows;
        }
    }

    /// <summary>Token ids for an already tokenized batch: greedy search when NumBeams is 1, as transformers picks.</summary>
    public GenerationResult GenerateIds(EncoderBatch inputs, GenerationOptions options) =>
        options.NumBeams == 1
            ? GreedySearch.Run(_decoder, inputs, options)
            : BeamSearch.Run(_decoder, inputs, options);
}
