using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Cli.Hosting;
using FlanT5.Poplar.Cli.Parity;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 parity</c>: loads a Hugging Face T5 checkpoint onto the device and compares it with reference data made
/// by Hugging Face (forward/backward, generation, AdamW trajectory). Prints each error beside its bound; exit 0 only
/// when every one holds.
/// </summary>
internal static class ParityCommand
{
    internal static Command Create()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "Hugging Face T5 checkpoint directory (config.json + model.safetensors or a sharded index)",
            Required = true,
        };
        var reference = new Option<string?>("--reference", "-r")
        {
            Description = "Reference file of the fixture format: input_ids/attention_mask/decoder_input_ids/labels with " +
                          "logits_f64, loss_f64, encoder_last_hidden_state_f64, grad.<param>; and/or gen_input_ids, " +
                          "gen_attention_mask with greedy_ids, beam3_ids (max 12 new tokens)",
        };
        var trajectory = new Option<string?>("--trajectory", "-t")
        {
            Description = "AdamW trajectory reference: FILE.safetensors (step{N}.* batches, final.<param>) beside FILE.json " +
                          "(lr, betas, eps, weight_decay, losses, grad_norms) and FILE_f64.safetensors (the same steps in " +
                          "float64, which the bounds are scaled by: make_f64_trajectory.py makes it); either of the first two may be given",
        };
        var tensorParallel = new Option<int>("--tensor-parallel") { Description = "Tensor-parallel degree", DefaultValueFactory = _ => 1 };
        var pipelineStages = new Option<int>("--pipeline-stages") { Description = "Pipeline stages", DefaultValueFactory = _ => 1 };
        var replicas = new Option<int>("--replicas") { Description = "Data-parallel replicas", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Emulator threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var precision = new Option<string>("--precision")
        {
            Description = "fp32, or fp16 against the same float64 references with bounds of fp16's unit roundoff",
            DefaultValueFactory = _ => "fp32",
        };
        var detectOverflow = new Option<bool>("--detect-overflow")
        {
            Description = "Stop at the first op that overflows (past fp16's 65504, or NaN) with exit code 3, naming it",
        };
        var command = new Command("parity",
            "Compare a checkpoint on the device with Hugging Face reference data; exit 0 only when every error is within its bound")
        {
            model, reference, trajectory, tensorParallel, pipelineStages, replicas, threads, precision, detectOverflow,
        };
        command.SetAction(parse =>
        {
            var options = new DeviceModelOptions
            {
                TensorParallel = parse.GetValue(tensorParallel),
                PipelineStages = parse.GetValue(pipelineStages),
                Replicas = parse.GetValue(replicas),
                Threads = parse.GetValue(threads),
                DropoutRate = 0,
                Precision = HalfPrecision.Parse(parse.GetValue(precision) ?? "fp32", precision.Name),
                DetectOverflow = parse.GetValue(detectOverflow),
            };
            return Run(parse.GetValue(model)!, parse.GetValue(reference), parse.GetValue(trajectory), options,
                parse.InvocationConfiguration.Output);
        });
        return command;
    }

    internal static int Run(string modelDir, string? referencePath, string? trajectoryPath, DeviceModelOptions options, TextWriter output)
    {
        if (referencePath is null && trajectoryPath is null)
            throw new ArgumentException("give --reference FILE, --trajectory FILE, or both");
        if (trajectoryPath is not null && options.Precision == Precision.Fp16)
            throw new ArgumentException("--trajectory with --precision fp16: the trajectory's bounds are multiples of the float32 " +
                                        "reference's own floor; compare fp16 with --reference");
        var bounds = ParityBounds.For(options.Precision);
        var rows = new List<ParityRow>();
        var programsBuilt = 0;  // the sessions' program sets (one per batch shape)
        var compilations = 0;   // and their engine compilations
        using var checkpoint = HfCheckpointLoader.Open(modelDir);
        if (referencePath is not null)
        {
            using var reference = new ReferenceTensors(referencePath);
            using var model = DeviceModel.Load(checkpoint, options);
            if (reference.Has("input_ids")) rows.AddRange(ReferenceParity.ForwardBackward(model, reference, bounds));
            rows.AddRange(ReferenceParity.Generation(model, reference, bounds));
            programsBuilt += model.Session.ProgramsBuilt;
            compilations += model.Session.EngineCompilations;
        }
        if (trajectoryPath is not null)
        {
            var stem = Path.ChangeExtension(trajectoryPath, null);
            var json = JsonNode.Parse(File.ReadAllText(stem + ".json")) as JsonObject
                       ?? throw new InvalidDataException($"{stem}.json: expected a JSON object");
            string twin = ReferenceParity.Float64TwinPath(stem);
            if (!File.Exists(twin))
                throw new FileNotFoundException($"{twin}: missing; the trajectory bounds are scaled by the float32 reference's " +
                    "distance from its float64 replay (make it with tests/FlanT5.Poplar.Tests/fixtures/make/make_f64_trajectory.py)", twin);
            using var batches = new ReferenceTensors(stem + ".safetensors");
            using var float64 = new ReferenceTensors(twin);
            using var model = DeviceModel.Load(checkpoint, options);
            rows.AddRange(ReferenceParity.Trajectory(model, batches, json, float64));
            programsBuilt += model.Session.ProgramsBuilt;
            compilations += model.Session.EngineCompilations;
        }
        if (rows.Count == 0) throw new InvalidDataException("the reference files held nothing to compare");

        int width = Math.Max(10, rows.Max(r => r.Check.Length));
        output.WriteLine($"{"check".PadRight(width)}  {"error",12}  {"bound",9}  {"measure",-15} result");
        foreach (var row in rows)
        {
            output.WriteLine($"{row.Check.PadRight(width)}  {Format(row.Error),12}  {Format(row.Bound),9}  {row.Measure,-15} " +
                             (row.Passed ? "ok" : "FAIL"));
        }
        int failed = rows.Count(r => !r.Passed);
        output.WriteLine($"{rows.Count - failed} of {rows.Count} within bounds ({modelDir}, tp {options.TensorParallel}, " +
                         $"pp {options.PipelineStages}, replicas {options.Replicas}, " +
                         $"{programsBuilt} programs compiled, {compilations} engine compilations" +
                         (options.Precision == Precision.Fp16
                             ? $"; fp16: bounds in fp16's unit roundoff u = 2^-11: logits {bounds.Logits / ParityBounds.HalfUnitRoundoff:0} u, " +
                               $"loss {bounds.Loss / ParityBounds.HalfUnitRoundoff:0} u, gradients {bounds.Gradient / ParityBounds.HalfUnitRoundoff:0} u)"
                             : ")"));
        return failed == 0 ? ExitCodes.Success : ExitCodes.InternalError;
    }

    private static string Format(double value) =>
        value == Math.Floor(value) && value < 1e6 ? value.ToString("0", CultureInfo.InvariantCulture)
            : value.ToString("0.00e+00", CultureInfo.InvariantCulture);
}
