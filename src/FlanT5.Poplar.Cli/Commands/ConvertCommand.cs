using System.CommandLine;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 convert --model DIR --output DIR [--dtype fp32|bf16|fp16] [--max-shard-size SIZE]</c>: loads a Hugging
/// Face T5 checkpoint onto the device and exports what the device holds in the hub layout (config, generation config,
/// safetensors single or sharded with an index, tokenizer files). fp32 in and out is bit-exact. The device session is
/// weights-only and placed by <see cref="ServingPlacementOptions"/> (e.g. <c>--tensor-parallel 8 --pipeline-stages 2</c>
/// for flan-t5-xl on a Pod16). <c>--host-only</c> streams tensor by tensor without a device, for checkpoints too large
/// for the host running the emulator.
/// </summary>
internal static class ConvertCommand
{
    internal static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json + safetensors)", Required = true };
        var output = new Option<string>("--output") { Description = "Folder to write the hub layout into", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype: fp32, bf16 or fp16", DefaultValueFactory = _ => "fp32" };
        var maxShardSize = new Option<string>("--max-shard-size") { Description = "Largest shard, e.g. 5GB, 200MB, 10KB", DefaultValueFactory = _ => "5GB" };
        var hostOnly = new Option<bool>("--host-only") { Description = "Convert on the host, streaming, without loading the model onto a device" };
        var placement = new ServingPlacementOptions();
        var command = new Command("convert", "Load a Hugging Face T5 checkpoint onto the device and export it again (dtype, sharding)")
        {
            model, output, dtype, maxShardSize, hostOnly,
        };
        foreach (var option in placement.All) command.Options.Add(option);
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(output)!, parse.GetValue(dtype)!,
            parse.GetValue(maxShardSize)!, parse.GetValue(hostOnly), placement.Read(parse), parse.InvocationConfiguration.Output));
        return command;
    }

    private static int Run(string model, string output, string dtypeText, string maxShardSizeText, bool hostOnly,
        DeviceModelOptions placement, TextWriter console)
    {
        var options = new HfExportOptions
        {
            DType = SafetensorsDTypes.ParseExportDType(dtypeText),
            MaxShardBytes = ByteSize.Parse(maxShardSizeText),
            TokenizerSource = model,
        };
        using var checkpoint = HfCheckpointLoader.Open(model);
        IReadOnlyList<string> files;
        if (hostOnly)
        {
            files = HfCheckpointExporter.Export(checkpoint, output, options);
        }
        else
        {
            using var device = DeviceModel.Load(checkpoint, placement);
            files = HfCheckpointExporter.Export(device, output, options);
        }
        console.WriteLine($"{model} ({checkpoint.Layout} embeddings, {checkpoint.Tensors.Count} tensors) → " +
            $"{(hostOnly ? "host" : "device")} → {output}: {files.Count} safetensors file(s), {options.DType.HeaderName()}");
        return 0;
    }
}
