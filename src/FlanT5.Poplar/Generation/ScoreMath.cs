namespace FlanT5.Poplar.Generation;

/// <summary>The selection arithmetic of the searches, with torch's tie rules (first index wins).</summary>
internal static class ScoreMath
{
    /// <summary>Index of the largest value, the lowest index on ties (torch.argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
                best = i;
        }

        return best;
    }

    /// <summary>log_softmax of <paramref name="logits"/> into <paramref name="output"/>. The sum runs in double so the
    /// result is within an ulp of torch's float32 log_softmax.</summary>
    public static void LogSoftmax(ReadOnlySpan<float> logits, Span<float> output)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits)
            max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits)
            sum += Math.Exp((double)x - max);
        double logSumExp = max + Math.Log(sum);
        for (int i = 0; i < logits.Length; i++)
            output[i] = (float)(logits[i] - logSumExp);
    }

    /// <summary>The <paramref name="indices"/>.Length largest values in descending order, the lower index first on
    /// ties; writes their indices and values.</summary>
    public static void TopK(ReadOnlySpan<float> values, Span<int> indices, Span<float> topValues)
    {
        int k = indices.Length;
        if (k > values.Length)
            throw new ArgumentException($"top-{k} of only {values.Length} values.", nameof(indices));
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (count == k && !(v > topValues[k - 1]))
                continue;
            // Insertion keeps earlier indices ahead of equal later values: a stable descending order.
            int at = count < k ? count : k - 1;
            while (at > 0 && v > topValues[at - 1])
            {
                topValues[at] = topValues[at - 1];
                indices[at] = indices[at - 1];
                at--;
            }

            topValues[at] = v;
            indices[at] = i;
            if (count < k)
                count++;
        }
    }

    /// <summary>Throws when a row of scores holds NaN (a broken model or device; selection would be meaningless).</summary>
    public static void ThrowIfNaN(ReadOnlySpan<float> scores, int row, int step, string what)
    {
        for (int i = 0; i < scores.Length; i++)
        {
            if (float.IsNaN(scores[i]))
                throw new InvalidOperationException(
                    $"{what} of row {row} at decode step {step} is NaN (token {i}); the model produced invalid logits.");
        }
    }
}
