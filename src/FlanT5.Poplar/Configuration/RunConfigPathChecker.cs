namespace FlanT5.Poplar.Configuration;

/// <summary>
/// Checks that the files a run reads exist (the schema only checks shapes and ranges, so presets with placeholder
/// paths still load for planning). <c>flant5 config validate</c> and the trainer call it before starting.
/// </summary>
public static class RunConfigPathChecker
{
    public static IReadOnlyList<ConfigProblem> Check(RunConfig config, bool forTraining = true)
    {
        var problems = new List<ConfigProblem>();
        if (config.Model.Checkpoint is { } checkpoint)
        {
            if (!Directory.Exists(checkpoint))
                problems.Add(new ConfigProblem("model.checkpoint", $"directory '{checkpoint}' does not exist"));
            else if (!File.Exists(Path.Combine(checkpoint, "config.json")))
                problems.Add(new ConfigProblem("model.checkpoint", $"'{checkpoint}' has no config.json; expected a Hugging Face checkpoint directory"));
        }
        void FileOrDirectory(string? path, string key)
        {
            if (path is not null && !File.Exists(path) && !Directory.Exists(path))
                problems.Add(new ConfigProblem(key, $"'{path}' does not exist"));
        }
        if (forTraining)
        {
            if (config.Data.Train is null) problems.Add(new ConfigProblem("data.train", "is null; training needs a train split"));
            FileOrDirectory(config.Data.Train, "data.train");
        }
        FileOrDirectory(config.Data.Eval.ValidationMatched, "data.eval.validation_matched");
        FileOrDirectory(config.Data.Eval.ValidationMismatched, "data.eval.validation_mismatched");
        FileOrDirectory(config.Checkpoint.Load, "checkpoint.load");
        return problems;
    }
}
