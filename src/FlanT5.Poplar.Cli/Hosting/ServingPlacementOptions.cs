using System.CommandLine;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Hosting;

/// <summary>
/// The placement options of the commands that only run the model forward (convert, generate): tensor parallelism,
/// pipeline stages, where the weights live and the emulator's threads. Their sessions are weights-only — no gradients
/// or AdamW moments — so a checkpoint needs a quarter of the device memory training it would (flan-t5-xl: 11.4 GB of
/// fp32 weights instead of 45.6 GB).
/// </summary>
internal sealed class ServingPlacementOptions
{
    private readonly Option<int> _tensorParallel = new("--tensor-parallel")
    {
        Description = "IPUs each layer is split across (Megatron-style)",
        DefaultValueFactory = _ => 1,
    };

    private readonly Option<int> _pipelineStages = new("--pipeline-stages")
    {
        Description = "Consecutive groups of layers, each on its own IPUs",
        DefaultValueFactory = _ => 1,
    };

    private readonly Option<string> _weightsLocation = new("--weights-location")
    {
        Description = "on-chip, or streaming (phased: each layer's weights are brought on chip when it runs)",
        DefaultValueFactory = _ => "on-chip",
    };

    private readonly Option<int> _threads = new("--threads")
    {
        Description = "Emulator threads (0 = all cores)",
        DefaultValueFactory = _ => 0,
    };

    private readonly Option<string> _precision = new("--precision")
    {
        Description = "fp32, or fp16 as the IPU serves: fp16 weights, activations and KV cache",
        DefaultValueFactory = _ => "fp32",
    };

    private readonly Option<string> _mitigations = new("--fp16-mitigations")
    {
        Description = "With --precision fp16: none, safe (wo and the residual stream in fp32, the scaled mask), or a comma list of " +
                      "wo_fp32, wo_scaled, residual_fp32, clamp, mask_scaled, gelu_limited",
        DefaultValueFactory = _ => "none",
    };

    private readonly Option<bool> _detectOverflow = new("--detect-overflow")
    {
        Description = "Stop at the first op that overflows (past fp16's 65504, or NaN) with exit code 3, naming it",
    };

    public IEnumerable<Option> All => [_tensorParallel, _pipelineStages, _weightsLocation, _precision, _mitigations, _detectOverflow, _threads];

    public DeviceModelOptions Read(ParseResult parse)
    {
        int tp = Positive(parse.GetValue(_tensorParallel), _tensorParallel.Name);
        int pp = Positive(parse.GetValue(_pipelineStages), _pipelineStages.Name);
        var location = parse.GetValue(_weightsLocation) switch
        {
            "on-chip" => MemoryLocation.OnChip,
            "streaming" => MemoryLocation.Streaming,
            var other => throw new ArgumentException($"{_weightsLocation.Name} is '{other}'; expected on-chip or streaming"),
        };
        var precision = HalfPrecision.Parse(parse.GetValue(_precision) ?? "fp32", _precision.Name);
        return new DeviceModelOptions
        {
            Threads = parse.GetValue(_threads),
            TensorParallel = tp,
            PipelineStages = pp,
            WeightsLocation = location,
            OptimizerLocation = location, // nothing to place, but phased execution wants both streamed
            WeightsOnly = true,
            DropoutRate = 0,
            Precision = precision,
            Fp16Mitigations = Mitigations(parse, precision),
            DetectOverflow = parse.GetValue(_detectOverflow),
        };
    }

    private Interop.HalfMitigations Mitigations(ParseResult parse, Precision precision)
    {
        var flags = HalfMitigationsSection.Parse(parse.GetValue(_mitigations) ?? "none", _mitigations.Name).Flags;
        if (flags != Interop.HalfMitigations.None && precision != Precision.Fp16)
            throw new ArgumentException($"{_mitigations.Name} changes fp16 arithmetic; give --precision fp16 with it");
        return flags;
    }

    private static int Positive(int value, string name) =>
        value >= 1 ? value : throw new ArgumentException($"{name} is {value}; expected 1 or more");
}
