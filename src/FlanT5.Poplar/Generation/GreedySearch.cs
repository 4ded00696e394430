namespace FlanT5.Poplar.Generation;

/// <summary>
/// transformers' <c>generate(do_sample=False, num_beams=1)</c>: every row starts with the decoder start token and takes
/// the argmax token each step; a row that emitted EOS is finished and gets the pad token from then on; decoding stops
/// when every row is finished or after MaxNewTokens tokens.
/// </summary>
public static class GreedySearch
{
    public static GenerationResult Run(IIncrementalDecoder decoder, EncoderBatch inputs, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        int vocab = decoder.VocabSize;
        options.Validate(vocab);
        int batch = inputs.Batch, maxLen = 1 + options.MaxNewTokens;

        var sequences = new int[batch][];
        for (int r = 0; r < batch; r++)
        {
            sequences[r] = new int[maxLen];
            sequences[r][0] = options.DecoderStartTokenId;
        }

        var running = new bool[batch];
        Array.Fill(running, true);
        var tokens = new int[batch];
        var logits = new float[batch * vocab];
        int length = 1;

        decoder.Begin(inputs.InputIds, inputs.AttentionMask, batch, inputs.SrcLen, options.MaxNewTokens);
        try
        {
            bool anyRunning = true;
            while (anyRunning && length < maxLen)
            {
                for (int r = 0; r < batch; r++)
                    tokens[r] = sequences[r][length - 1];
                decoder.Step(tokens, logits);
                anyRunning = false;
                for (int r = 0; r < batch; r++)
                {
                    Span<float> scores = logits.AsSpan(r * vocab, vocab);
                    foreach (ILogitsProcessor processor in options.LogitsProcessors)
                        processor.Process(sequences[r].AsSpan(0, length), scores);
                    int next = options.PadTokenId;
                    if (running[r])
                    {
                        ScoreMath.ThrowIfNaN(scores, r, length - 1, "next-token scores");
                        next = ScoreMath.ArgMax(scores);
                    }

                    sequences[r][length] = next;
                    running[r] &= next != options.EosTokenId;
                    anyRunning |= running[r];
                }

                length++;
            }
        }
        finally
        {
            decoder.End();
        }

        for (int r = 0; r < batch; r++)
            Array.Resize(ref sequences[r], length);
        return new GenerationResult(sequences, null);
    }
}
