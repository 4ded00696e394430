using System.CommandLine;
using System.Globalization;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Files;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Placement;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 evaluate</c>: generation-based accuracy of a model on the validation splits: a Hugging Face checkpoint
/// (model.checkpoint or --model) or a training checkpoint (--training-checkpoint), greedy or beam search. Under
/// mpirun or poprun the instances share the examples (<see cref="EvaluationShards"/>) and gather the answers over MPI;
/// instance 0 alone prints and writes the results, and a failing instance stops them all.
/// </summary>
internal static class EvaluateCommand
{
    internal static Command Create(Func<string, string?> environment)
    {
        var options = new RunConfigOptions();
        var model = new Option<string?>("--model", "-m")
        {
            Description = "Hugging Face checkpoint directory to evaluate (default: model.checkpoint of the config)",
        };
        var trainingCheckpoint = new Option<string?>("--training-checkpoint")
        {
            Description = "A training checkpoint directory (checkpoints/checkpoint-NNNNNNNN) whose weights to evaluate",
        };
        var split = new Option<string>("--split")
        {
            Description = "Which split: validation_matched, validation_mismatched or all",
            DefaultValueFactory = _ => "all",
        };
        split.AcceptOnlyFromAmong("validation_matched", "validation_mismatched", "all");
        var beams = new Option<int?>("--num-beams") { Description = "Beam width (1 = greedy; default: inference.num_beams)" };
        var maxTokens = new Option<int?>("--max-new-tokens") { Description = "Longest answer in tokens (default: inference.max_new_tokens)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the results (one JSON object per split) to this file" };
        var instanceTimeout = InstanceRun.TimeoutOption("to finish their share of a split");
        var command = new Command("evaluate",
            "Accuracy by generation on MNLI validation splits: per-class counts and confusion matrix (unknown answers count as wrong)");
        options.AddWithPrecisionTo(command);
        command.Options.Add(model);
        command.Options.Add(trainingCheckpoint);
        command.Options.Add(split);
        command.Options.Add(beams);
        command.Options.Add(maxTokens);
        command.Options.Add(output);
        command.Options.Add(instanceTimeout);
        command.SetAction(parse =>
        {
            var loaded = options.Load(parse);
            var config = loaded.Config;
            if (parse.GetValue(model) is { } modelDir) config = config with { Model = config.Model with { Checkpoint = Path.GetFullPath(modelDir) } };
            var layout = RunConfigOptions.ThrowUnlessRunnable(loaded, config, environment, "evaluate", runsAcrossInstances: true);
            var timeout = parse.GetValue(instanceTimeout);
            InstanceRun.CheckTimeout(timeout);
            if (!layout.IsMultiInstance) return Run(parse, config, new OneInstance());
            using var instances = InstanceRun.Join(layout, timeout);
            // Each instance drives only its own replicas.
            var local = config with { Execution = config.Execution with { DataParallel = layout.LocalReplicas, Instances = 1 } };
            return InstanceRun.RunOrAbortAsync(instances, parse, () => Task.FromResult(Run(parse, local, instances)))
                .GetAwaiter().GetResult();
        });
        return command;

        // Every instance generates its share of each split; instance 0 alone prints and writes the results.
        int Run(ParseResult parse, RunConfig config, IInstanceGroup instances)
        {
            var inference = config.Inference with
            {
                NumBeams = parse.GetValue(beams) ?? config.Inference.NumBeams,
                MaxNewTokens = parse.GetValue(maxTokens) ?? config.Inference.MaxNewTokens,
            };
            var writes = instances.Index == 0;
            var console = writes ? parse.InvocationConfiguration.Output : TextWriter.Null;
            var reportPath = writes ? parse.GetValue(output) : null;
            // An unwritable destination fails before the evaluation, not after it; the file itself is written at the
            // end, so a run stopped on the way (by a signal, or by another instance's failure) leaves nothing behind.
            if (reportPath is not null) AtomicFile.Create(reportPath).Dispose();
            using var inputs = RunInputs.Load(config, readTrain: false);
            using var trainer = new T5Trainer(config, inputs.Pretrained, [], null, inference, inputs.Tokenizer, LabelSet.Mnli);
            if (parse.GetValue(trainingCheckpoint) is { } ckpt)
            {
                using var checkpoint = TrainingCheckpoint.Open(ckpt);
                trainer.Model.LoadWeights(checkpoint.Weights);
                console.WriteLine($"weights: training checkpoint {ckpt} (step {checkpoint.Step})");
            }
            var wanted = parse.GetValue(split)!;
            var results = new List<EvaluationResult>();
            foreach (var (name, examples) in inputs.Eval)
            {
                if (wanted != "all" && wanted != name) continue;
                var result = trainer.Evaluate(name, examples, instances);
                results.Add(result);
                console.WriteLine(result.ToText());
            }
            if (results.Count == 0)
                throw new ArgumentException($"no evaluation data for '{wanted}': set data.eval.{wanted} in the config");
            if (reportPath is not null) AtomicFile.WriteAllText(reportPath, "[" + string.Join(",\n", results.Select(r => r.ToJson())) + "]\n");
            return ExitCodes.Success;
        }
    }
}
