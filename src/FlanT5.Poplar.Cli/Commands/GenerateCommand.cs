using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Tokenization;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 generate</c>: the text2text pipeline. Prompts from --prompt (repeatable) or, without it, one per line of
/// standard input; one answer per line, in order.
/// </summary>
internal static class GenerateCommand
{
    internal static Command Create()
    {
        var model = new Option<string?>("--model", "-m")
        {
            Description = "Hugging Face T5 checkpoint directory (weights, config.json, spiece.model); " +
                          "default: the default run's model.checkpoint, the bundled tiny Flan-T5",
        };
        var prompts = new Option<string[]>("--prompt", "-p")
        {
            Description = "A prompt, e.g. \"mnli hypothesis: … premise: …\" (repeatable; default: read lines from stdin)",
            AllowMultipleArgumentsPerToken = false,
        };
        var beams = new Option<int>("--num-beams") { Description = "Beam width; 1 = greedy", DefaultValueFactory = _ => 1 };
        var maxTokens = new Option<int>("--max-new-tokens") { Description = "Longest answer in tokens", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch-size") { Description = "Prompts decoded together", DefaultValueFactory = _ => 16 };
        var placement = new ServingPlacementOptions();
        var command = new Command("generate", "Answer prompts with a T5 checkpoint on the device (greedy or beam search)")
        {
            model, prompts, beams, maxTokens, batch,
        };
        foreach (var option in placement.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var modelDir = parse.GetValue(model) ?? RunConfigOptions.LoadDefault().Config.Model.Checkpoint
                ?? throw new ArgumentException("no --model given and the default run config names no model.checkpoint");
            var console = parse.InvocationConfiguration.Output;
            var texts = parse.GetValue(prompts) is { Length: > 0 } given ? given.ToList() : PromptInput.ReadLines(Console.In);
            if (texts.Count == 0) throw new ArgumentException("no prompts: pass --prompt TEXT or write prompts to standard input");
            var tokenizer = T5Tokenizer.FromDirectory(modelDir);
            using var checkpoint = HfCheckpointLoader.Open(modelDir);
            using var device = DeviceModel.Load(checkpoint, placement.Read(parse));
            var options = GenerationOptions.For(checkpoint.Config) with
            {
                NumBeams = parse.GetValue(beams),
                MaxNewTokens = parse.GetValue(maxTokens),
                BatchSize = parse.GetValue(batch),
                EarlyStopping = parse.GetValue(beams) > 1 ? BeamEarlyStopping.WhenBeamsFull : BeamEarlyStopping.Heuristic,
            };
            var pipeline = new Text2TextPipeline(new SessionDecoder(device.Session), tokenizer, options);
            foreach (var answer in pipeline.Generate(texts, options)) console.WriteLine(answer);
            return ExitCodes.Success;
        });
        return command;
    }
}
