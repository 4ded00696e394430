namespace FlanT5.Poplar.Data;

/// <summary>Chooses the MNLI reader by file layout and finds a split's file in the three usual folder layouts.</summary>
public static class MnliReader
{
    /// <summary>The reader for a file: .tsv → GLUE, .jsonl → MultiNLI, .parquet → Hugging Face.</summary>
    public static IDatasetReader<MnliExample> ForFile(string path, DatasetReadOptions? options = null) =>
        Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".tsv" => new GlueTsvReader(options),
            ".jsonl" or ".json" => new MultiNliJsonlReader(options),
            ".parquet" => new ParquetMnliReader(options),
            var ext => throw new ArgumentException($"{path}: unknown MNLI file type '{ext}' (expected .tsv, .jsonl or .parquet)", nameof(path)),
        };

    public static DatasetReadResult<MnliExample> Read(string path, DatasetReadOptions? options = null) =>
        ForFile(path, options).Read(path);

    /// <summary>
    /// The file of <paramref name="split"/> (train, validation_matched, validation_mismatched) in a folder laid out as
    /// GLUE (train.tsv, dev_matched.tsv), MultiNLI (multinli_1.0_train.jsonl) or Hugging Face (train-*.parquet).
    /// </summary>
    public static string FindSplitFile(string directory, string split)
    {
        string glue = split switch
        {
            "train" => "train",
            "validation_matched" => "dev_matched",
            "validation_mismatched" => "dev_mismatched",
            _ => throw new ArgumentException($"unknown MNLI split '{split}' (expected train, validation_matched or validation_mismatched)", nameof(split)),
        };
        var candidates = new List<string> { Path.Combine(directory, glue + ".tsv"), Path.Combine(directory, $"multinli_1.0_{glue}.jsonl") };
        if (Directory.Exists(directory))
            candidates.AddRange(Directory.EnumerateFiles(directory, split + "-*.parquet").Order(StringComparer.Ordinal));
        foreach (var candidate in candidates)
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException(
            $"{directory}: no file for MNLI split '{split}' (looked for {glue}.tsv, multinli_1.0_{glue}.jsonl, {split}-*.parquet)");
    }

    internal static Utf8LineReader OpenLines(string path)
    {
        try
        {
            return new Utf8LineReader(path);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"{path}: no such dataset file", path, e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new FileNotFoundException($"{path}: no such dataset file", path, e);
        }
    }
}
