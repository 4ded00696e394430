using System.CommandLine;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 convert --model DIR --output DIR [--dtype fp32|bf16|fp16] [--max-shard-size SIZE]</c>: loads a Hugging
/// Face T5 checkpoint and exports it in the hub layout. Weights stream tensor by tensor (load → export); the
/// device round trip is wired in by the coordinator later.
/// </summary>
internal static class ConvertCommand
{
    internal static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json + safetensors)", Required = true };
        var output = new Option<string>("--output") { Description = "Folder to write the hub layout into", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype: fp32, bf16 or fp16", DefaultValueFactory = _ => "fp32" };
        var maxShardSize = new Option<string>("--max-shard-size") { Description = "Largest shard, e.g. 5GB, 200MB, 10KB", DefaultValueFactory = _ => "5GB" };
        var command = new Command("convert", "Convert a Hugging Face T5 checkpoint (dtype, sharding) into the hub layout")
        {
            model, output, dtype, maxShardSize,
        };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(output)!, parse.GetValue(dtype)!, parse.GetValue(maxShardSize)!));
        return command;
    }

    private static int Run(string model, string output, string dtypeText, string maxShardSizeText)
    {
        try
        {
            var options = new HfExportOptions
            {
                DType = SafetensorsDTypes.ParseExportDType(dtypeText),
                MaxShardBytes = ByteSize.Parse(maxShardSizeText),
                TokenizerSource = model,
            };
            using var checkpoint = HfCheckpointLoader.Open(model);
            var files = HfCheckpointExporter.Export(checkpoint, output, options);
            Console.WriteLine($"{model} ({checkpoint.Layout} embeddings, {checkpoint.Tensors.Count} tensors) → {output}: " +
                $"{files.Count} safetensors file(s), {options.DType.HeaderName()}");
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or ArgumentException or FormatException or IOException)
        {
            Console.Error.WriteLine($"convert: {e.Message}");
            return 1;
        }
    }
}
