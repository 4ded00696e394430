// The reference workload through the FlanT5.Poplar package: fine-tune the bundled tiny Flan-T5 on synthetic MNLI
// for a few steps on the IPU emulator, evaluate by generation, export a Hugging Face checkpoint, then load the
// export and answer one prompt with the text2text pipeline. Usage: FlanT5.Poplar.Sample [RUN_DIR]
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Tokenization;
using FlanT5.Poplar.Training;

string Bundled(string path) => Path.Combine(AppContext.BaseDirectory, path);
var runDir = Path.GetFullPath(args.Length > 0 ? args[0] : "sample-run");
var defaults = RunConfig.Default; // the tiny-emulator preset's values: batch 32, AdamW lr 1e-3, one emulated IPU
var config = defaults with
{
    Model = defaults.Model with { Checkpoint = Bundled("models/flan-t5-tiny") },
    Training = defaults.Training with { Steps = 30 },
    Data = defaults.Data with { Train = Bundled("data/train.tsv"), Eval = new() { ValidationMatched = Bundled("data/dev_matched.tsv"), ValidationMismatched = null } },
    Output = new() { RunDir = runDir },
};

using (var inputs = RunInputs.Load(config))
using (var trainer = new T5Trainer(config, inputs.Pretrained, inputs.Train, inputs.Eval["validation_matched"], config.Inference, inputs.Tokenizer, LabelSet.Mnli))
{
    var outcome = await trainer.TrainAsync();
    Console.WriteLine($"trained {outcome.StepsCompleted} steps, final loss {outcome.FinalLoss:F4}");
    Console.WriteLine(trainer.Evaluate("validation_matched").ToText());
    trainer.SaveHfCheckpoint(Path.Combine(runDir, "hf-checkpoint"));
}

var exported = Path.Combine(runDir, "hf-checkpoint");
using var checkpoint = HfCheckpointLoader.Open(exported);
using var model = DeviceModel.Load(checkpoint, new DeviceModelOptions { WeightsOnly = true });
var pipeline = new Text2TextPipeline(new SessionDecoder(model.Session), T5Tokenizer.FromDirectory(exported), GenerationOptions.For(checkpoint.Config));
Console.WriteLine("answer: " + pipeline.Generate("mnli hypothesis: Someone is writing a letter. premise: A woman is writing a letter near the river."));
