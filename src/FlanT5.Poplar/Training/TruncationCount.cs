namespace FlanT5.Poplar.Training;

/// <summary>How many training rows were cut to the model's sequence lengths (each time a row was fed), so that a
/// premise far longer than <c>model.source_length</c> is reported rather than silently shortened.</summary>
public sealed record TruncationCount(long Sources, long Targets, int LongestSource)
{
    public static TruncationCount None { get; } = new(0, 0, 0);

    public bool Any => Sources > 0 || Targets > 0;

    public TruncationCount Add(Data.Seq2SeqBatch batch) =>
        new(Sources + batch.TruncatedSources, Targets + batch.TruncatedTargets, Math.Max(LongestSource, batch.LongestSource));

    /// <summary>One line for the run's output.</summary>
    public string Describe(int sourceLength, int targetLength)
    {
        var parts = new List<string>();
        if (Sources > 0)
            parts.Add($"{Sources} training prompt(s) fed were longer than model.source_length {sourceLength} tokens and were cut " +
                      $"(the longest: {LongestSource} tokens)");
        if (Targets > 0) parts.Add($"{Targets} target(s) fed were longer than model.target_length {targetLength} and were cut");
        return string.Join("; ", parts);
    }
}
