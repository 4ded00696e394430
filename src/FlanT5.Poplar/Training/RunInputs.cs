using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Data;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Training;

/// <summary>What a run reads before it starts: the tokenizer, the pretrained weights, and the prompted examples of the
/// training and evaluation splits, as the run config names them.</summary>
public sealed class RunInputs : IDisposable
{
    private RunInputs(T5Tokenizer tokenizer, HfCheckpoint pretrained, IReadOnlyList<Seq2SeqExample> train,
        IReadOnlyDictionary<string, IReadOnlyList<Seq2SeqExample>> eval, IReadOnlyList<string> notes)
    {
        Tokenizer = tokenizer;
        Pretrained = pretrained;
        Train = train;
        Eval = eval;
        Notes = notes;
    }

    public T5Tokenizer Tokenizer { get; }
    public HfCheckpoint Pretrained { get; }
    public IReadOnlyList<Seq2SeqExample> Train { get; }

    /// <summary>Evaluation splits by name (validation_matched, validation_mismatched), in config order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Seq2SeqExample>> Eval { get; }

    /// <summary>What reading skipped (rows without a gold label, bad rows), one line per file.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Reads everything the config names; <paramref name="readTrain"/> false skips the training split.</summary>
    public static RunInputs Load(RunConfig config, bool readTrain = true)
    {
        var modelDir = config.Model.Checkpoint
            ?? throw new ArgumentException("model.checkpoint is not set: point it at a Hugging Face T5 checkpoint directory");
        if (!Directory.Exists(modelDir))
            throw new DirectoryNotFoundException($"model.checkpoint {modelDir}: no such folder (expected a Hugging Face T5 checkpoint)");
        var tokenizer = T5Tokenizer.FromDirectory(modelDir);
        var pretrained = HfCheckpointLoader.Open(modelDir);
        try
        {
            var template = new PromptTemplate(config.Data.PromptTemplate, "{label}");
            var readOptions = new DatasetReadOptions { SkipBadRows = config.Data.SkipBadRows };
            var notes = new List<string>();
            // A split with no labelled row cannot train or be scored (0/0 is not an accuracy): refused, with the counts.
            IReadOnlyList<Seq2SeqExample> Read(string path, string key)
            {
                var result = MnliReader.Read(path, readOptions);
                notes.Add(result.ToString());
                if (result.Examples.Count == 0)
                    throw new InvalidDataException($"{key} {path}: no usable example ({result.SkippedNoGoldLabel} row(s) without a gold label " +
                        $"and {result.SkippedBadRows} malformed row(s) skipped{(result.BadRows.Count > 0 ? $", e.g. {result.BadRows[0]}" : "")})");
                return result.Examples.Select(template.Format).ToList();
            }
            IReadOnlyList<Seq2SeqExample> train = readTrain && config.Data.Train is { } trainPath ? Read(trainPath, "data.train") : [];
            var eval = new Dictionary<string, IReadOnlyList<Seq2SeqExample>>(StringComparer.Ordinal);
            if (config.Data.Eval.ValidationMatched is { } matched) eval["validation_matched"] = Read(matched, "data.eval.validation_matched");
            if (config.Data.Eval.ValidationMismatched is { } mismatched) eval["validation_mismatched"] = Read(mismatched, "data.eval.validation_mismatched");
            return new RunInputs(tokenizer, pretrained, train, eval, notes);
        }
        catch
        {
            pretrained.Dispose();
            throw;
        }
    }

    public void Dispose() => Pretrained.Dispose();
}
