using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Files;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 convert --model DIR --output DIR [--dtype fp32|bf16|fp16] [--max-shard-size SIZE]</c>: loads a Hugging
/// Face T5 checkpoint onto the device and exports what the device holds in the hub layout (config, generation config,
/// safetensors single or sharded with an index, tokenizer files). fp32 in and out is bit-exact. The device session is
/// weights-only and placed by <see cref="ServingPlacementOptions"/> (e.g. <c>--tensor-parallel 8 --pipeline-stages 2</c>
/// for flan-t5-xl on a Pod16). <c>--host-only</c> streams tensor by tensor without a device, for checkpoints too large
/// for the host running the emulator. <c>--training-checkpoint DIR</c> exports the weights of a training checkpoint
/// instead (an interrupted run's last save), its tokenizer files taken from --model or else from the checkpoint the
/// run started from.
/// </summary>
internal static class ConvertCommand
{
    internal static Command Create()
    {
        var model = new Option<string?>("--model")
        {
            Description = "Hugging Face model folder (config.json + safetensors); with --training-checkpoint, where the tokenizer files come from",
        };
        var trainingCheckpoint = new Option<string?>("--training-checkpoint")
        {
            Description = "A training checkpoint directory (checkpoints/checkpoint-NNNNNNNN) whose weights to export",
        };
        var output = new Option<string>("--output") { Description = "Folder to write the hub layout into", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype: fp32, bf16 or fp16", DefaultValueFactory = _ => "fp32" };
        var maxShardSize = new Option<string>("--max-shard-size") { Description = "Largest shard, e.g. 5GB, 200MB, 10KB", DefaultValueFactory = _ => "5GB" };
        var hostOnly = new Option<bool>("--host-only") { Description = "Convert on the host, streaming, without loading the model onto a device" };
        var placement = new ServingPlacementOptions();
        var command = new Command("convert", "Load a Hugging Face T5 checkpoint (or a training checkpoint's weights) onto the device and export it (dtype, sharding)")
        {
            model, trainingCheckpoint, output, dtype, maxShardSize, hostOnly,
        };
        foreach (var option in placement.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var export = new HfExportOptions
            {
                DType = SafetensorsDTypes.ParseExportDType(parse.GetValue(dtype)!),
                MaxShardBytes = ByteSize.Parse(parse.GetValue(maxShardSize)!),
            };
            var console = parse.InvocationConfiguration.Output;
            var outputDir = parse.GetValue(output)!;
            // Before anything is loaded or written: an output that is an input under any name would destroy it.
            PathOverlap.ThrowIfOutputHoldsInput(outputDir, "--output",
                [(parse.GetValue(model), "--model"), (parse.GetValue(trainingCheckpoint), "--training-checkpoint")]);
            export = export with
            {
                SourceFolders = new[] { parse.GetValue(model), parse.GetValue(trainingCheckpoint) }.OfType<string>().ToList(),
                Warning = line => console.WriteLine($"warning: {line}"),
            };
            var deviceOptions = parse.GetValue(hostOnly) ? null : placement.Read(parse);
            if (parse.GetValue(trainingCheckpoint) is { } ckpt)
                return FromTrainingCheckpoint(ckpt, parse.GetValue(model), outputDir, export, deviceOptions, console);
            if (parse.GetValue(model) is not { } modelDir)
                throw new ArgumentException("pass --model DIR (a Hugging Face checkpoint) or --training-checkpoint DIR");
            using var checkpoint = HfCheckpointLoader.Open(modelDir);
            return Export(checkpoint, modelDir, outputDir, export with { TokenizerSource = modelDir }, deviceOptions, console);
        });
        return command;
    }

    private static int FromTrainingCheckpoint(string directory, string? tokenizerSource, string output, HfExportOptions export,
        DeviceModelOptions? deviceOptions, TextWriter console)
    {
        using var checkpoint = TrainingCheckpoint.Open(directory);
        if (tokenizerSource is null)
        {
            // The run's own config names the checkpoint it started from, whose tokenizer the run used.
            var started = RunConfigLoader.ParseJson(checkpoint.Manifest.RunConfig, Path.Combine(directory, TrainingCheckpointManifest.FileName)).Model.Checkpoint;
            if (Directory.Exists(started)) tokenizerSource = started;
            else console.WriteLine($"note: the run started from {started}, which is not here; no tokenizer files are copied (pass --model DIR for them)");
        }
        return Export(checkpoint.ModelWeights, $"{directory} (step {checkpoint.Step})", output, export with { TokenizerSource = tokenizerSource },
            deviceOptions, console);
    }

    /// <summary>Through the device (weights-only session) unless <paramref name="deviceOptions"/> is null (host only).</summary>
    private static int Export(IModelTensorSource source, string name, string output, HfExportOptions export, DeviceModelOptions? deviceOptions,
        TextWriter console)
    {
        IReadOnlyList<string> files;
        if (deviceOptions is null)
        {
            files = HfCheckpointExporter.Export(source, output, export);
        }
        else
        {
            using var device = DeviceModel.Load(source, deviceOptions);
            files = HfCheckpointExporter.Export(device, output, export);
        }
        console.WriteLine($"{name} ({source.Layout} embeddings, {source.Tensors.Count} tensors) → " +
            $"{(deviceOptions is null ? "host" : "device")} → {output}: {files.Count} safetensors file(s), {export.DType.HeaderName()}");
        return ExitCodes.Success;
    }
}
