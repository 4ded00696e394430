using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// <c>flant5 plan</c>: the per-IPU memory plan and predicted step time of a placement, next to the published
/// reference time when the run matches a reference preset; <c>--auto</c> searches for the fastest plan that fits;
/// <c>--inference</c> plans a weights-only serving session instead (<see cref="ServingPlan"/>).
/// Exit codes: 0 the plan fits, 1 it does not (the table and the overflowing IPU are printed), 2 bad arguments.
/// </summary>
internal static class PlanCommand
{
    private const int Fits = 0;
    private const int DoesNotFit = 1;
    private const int BadArguments = 2;

    private sealed record Options(
        Option<string?> Model, Option<int?> Ipus, Option<int?> TensorParallel, Option<int?> PipelineStages,
        Option<int?> Replicas, Option<int?> MicroBatch, Option<int?> GlobalBatch, Option<int?> SeqLen,
        Option<int?> SrcLen, Option<int?> TgtLen, Option<string?> Precision, Option<bool> Recompute,
        Option<string?> Schedule, Option<string?> EncoderLayers, Option<string?> DecoderLayers, Option<string?> WeightsLocation, Option<string?> OptimizerLocation,
        Option<string> Target, Option<string?> Preset, Option<bool> Auto, Option<bool> Json,
        Option<int?> Instances, Option<int?> IpusPerLinkDomain,
        Option<bool> Inference, Option<int?> Batch, Option<int?> MaxSourceLength, Option<int?> MaxTargetLength, Option<string?> Config,
        Option<bool> MasterWeights);

    internal static Command Create()
    {
        var o = new Options(
            new Option<string?>("--model") { Description = "flan-t5-small|base|large|xl|xxl, or a directory holding config.json" },
            new Option<int?>("--ipus") { Description = "Number of IPUs (default: tensor-parallel × pipeline-stages × replicas)" },
            new Option<int?>("--tensor-parallel", "-t") { Description = "Tensor-parallel degree (default 1)" },
            new Option<int?>("--pipeline-stages", "-p") { Description = "Pipeline stages (default 1)" },
            new Option<int?>("--replicas", "-d") { Description = "Data-parallel replicas (default: IPUs / (tp × stages))" },
            new Option<int?>("--micro-batch") { Description = "Micro-batch size (default 1)" },
            new Option<int?>("--global-batch") { Description = "Samples per optimizer step (default 128)" },
            new Option<int?>("--seq-len") { Description = "Source and target sequence length (default 512)" },
            new Option<int?>("--src-len") { Description = "Encoder sequence length (overrides --seq-len)" },
            new Option<int?>("--tgt-len") { Description = "Decoder sequence length (overrides --seq-len)" },
            new Option<string?>("--precision") { Description = "fp16 or fp32 weights and activations (default fp16)" },
            new Option<bool>("--recompute") { Description = "Recompute every layer but the LM head in the backward pass" },
            new Option<string?>("--schedule") { Description = "gpipe or 1f1b (default gpipe)" },
            new Option<string?>("--encoder-layers-per-stage") { Description = "Comma-separated encoder layers of each stage (default: even split, encoder first)" },
            new Option<string?>("--decoder-layers-per-stage") { Description = "Comma-separated decoder layers of each stage (default: even split)" },
            new Option<string?>("--weights-location") { Description = "on-chip or streaming (streaming = phased execution)" },
            new Option<string?>("--optimizer-location") { Description = "on-chip or streaming" },
            new Option<string>("--target") { Description = "mk2 (IPU Mk2 GC200) or bow", DefaultValueFactory = _ => "mk2" },
            new Option<string?>("--preset") { Description = $"Reference configuration: {string.Join(", ", ReferencePresets.All.Select(p => p.Name))}" },
            new Option<bool>("--auto") { Description = "Search for the fastest plan that fits on --ipus IPUs" },
            new Option<bool>("--json") { Description = "Write the result as JSON" },
            new Option<int?>("--instances") { Description = "Host processes the run is launched as (poprun --num-instances); must divide the replicas (default: the preset's, else 1)" },
            new Option<int?>("--ipus-per-link-domain") { Description = "IPUs joined by IPU-Links (default 64: an IPU-POD64); larger runs cross GW-Links between domains" },
            new Option<bool>("--inference") { Description = "Plan a weights-only serving session: weights, KV cache and decode step per IPU, predicted tokens/s" },
            new Option<int?>("--batch") { Description = "With --inference: rows decoded together, prompts × beams (default 1)" },
            new Option<int?>("--max-source-length") { Description = "With --inference: longest prompt in tokens (default 512)" },
            new Option<int?>("--max-target-length") { Description = "With --inference: most tokens a row generates, the KV cache's length (default 20)" },
            new Option<string?>("--config", "-c") { Description = "With --inference: a run config whose model, placement, precision, model.source_length and inference section give the defaults" },
            new Option<bool>("--master-weights") { Description = "fp16 training with an fp32 master copy of the weights beside the Adam moments (4 bytes per parameter more)" });

        var command = new Command("plan", "Per-IPU memory plan and predicted step time of a placement")
        {
            o.Model, o.Ipus, o.TensorParallel, o.PipelineStages, o.Replicas, o.MicroBatch, o.GlobalBatch, o.SeqLen,
            o.SrcLen, o.TgtLen, o.Precision, o.Recompute, o.Schedule, o.EncoderLayers, o.DecoderLayers, o.WeightsLocation, o.OptimizerLocation,
            o.Target, o.Preset, o.Auto, o.Json, o.Instances, o.IpusPerLinkDomain,
            o.Inference, o.Batch, o.MaxSourceLength, o.MaxTargetLength, o.Config, o.MasterWeights,
        };
        command.SetAction(parse => Run(parse, o));
        return command;
    }

    private static int Run(ParseResult parse, Options o)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            return Execute(parse, o, output);
        }
        catch (Exception e) when (e is InvalidPlanException or ArgumentException or InvalidDataException or IOException)
        {
            error.WriteLine($"error: {e.Message}");
            return BadArguments;
        }
    }

    private static int Execute(ParseResult parse, Options o, TextWriter output)
    {
        if (parse.GetValue(o.Inference)) return ExecuteInference(parse, o, output);
        foreach (var servingOnly in new Option[] { o.Batch, o.MaxSourceLength, o.MaxTargetLength, o.Config })
        {
            if (parse.GetResult(servingOnly) is { Implicit: false })
                throw new ArgumentException($"{servingOnly.Name}: only used to plan a serving session; add --inference");
        }
        var preset = parse.GetValue(o.Preset) is { } presetName ? ReferencePresets.Find(presetName) : null;
        var (model, modelName) = parse.GetValue(o.Model) is { } modelArg
            ? LoadModel(modelArg)
            : preset is not null
                ? (preset.Model, $"flan-t5-{preset.ModelSize}")
                : throw new ArgumentException("--model: required (flan-t5-small|base|large|xl|xxl or a directory with config.json) unless --preset is given");

        var seq = parse.GetValue(o.SeqLen) ?? ReferencePreset.SequenceLength;
        var shape = new TrainingShape
        {
            MicroBatch = parse.GetValue(o.MicroBatch) ?? ReferencePreset.MicroBatch,
            GlobalBatch = parse.GetValue(o.GlobalBatch) ?? ReferencePreset.GlobalBatch,
            SourceLength = parse.GetValue(o.SrcLen) ?? seq,
            TargetLength = parse.GetValue(o.TgtLen) ?? seq,
            Precision = parse.GetValue(o.Precision) is { } p ? NumericPrecisionExtensions.Parse(p, "--precision") : ReferencePreset.Precision,
            MasterWeights = parse.GetValue(o.MasterWeights),
        };

        var ipus = parse.GetValue(o.Ipus) ?? preset?.Ipus;
        var targetKind = parse.GetValue(o.Target)!;
        var memory = new MemoryPlanner();
        var cost = new CostModel();
        var json = parse.GetValue(o.Json);

        if (parse.GetValue(o.Auto))
        {
            if (ipus is not { } n) throw new ArgumentException("--auto: needs --ipus (or --preset) to know how many IPUs to plan for");
            var target = IpuTarget.Parse(targetKind, n);
            var found = new PlanSearch(memory, cost).FittingPlans(model, shape, target);
            if (json)
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    model = modelName,
                    ipus = n,
                    target = target.Name,
                    best = found.Count > 0 ? Describe(model, modelName, found[0].Plan, shape, target, found[0].Memory, found[0].Time) : null,
                    runnersUp = found.Skip(1).Take(5).Select(c => new { plan = c.Plan.Describe(), stepSeconds = c.Time.TotalSeconds, peakOnChipBytes = c.Memory.PeakOnChip }),
                }, JsonOptions));
                return found.Count > 0 ? Fits : DoesNotFit;
            }
            if (found.Count == 0)
            {
                output.WriteLine($"No plan for {modelName} fits on {n} {target.Name} IPUs (global batch {shape.GlobalBatch}, micro batch {shape.MicroBatch}, seq {shape.SourceLength}/{shape.TargetLength}, {shape.Precision.Name()}).");
                return DoesNotFit;
            }
            output.WriteLine($"Fastest of {found.Count} fitting plans for {modelName} on {n} IPUs:");
            output.WriteLine();
            WriteText(output, model, modelName, found[0].Plan, shape, target, found[0].Memory, found[0].Time);
            output.WriteLine();
            output.WriteLine("Runners-up:");
            foreach (var c in found.Skip(1).Take(5))
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {c.Time.TotalSeconds,8:0.0} s  peak {ByteSize.Format(c.Memory.PeakOnChip),9}  {c.Plan.Describe()}"));
            return Fits;
        }

        var tp = parse.GetValue(o.TensorParallel) ?? preset?.TensorParallel ?? 1;
        var stages = parse.GetValue(o.PipelineStages) ?? 1;
        int replicas;
        if (parse.GetValue(o.Replicas) is { } r) replicas = r;
        else if (parse.GetValue(o.Ipus) is { } total)
        {
            if (tp < 1 || stages < 1 || total % (tp * stages) != 0)
                throw new ArgumentException($"--ipus: {total} is not a multiple of tensor-parallel {tp} × pipeline-stages {stages}");
            replicas = total / (tp * stages);
        }
        else replicas = preset?.Replicas ?? 1;
        var recompute = parse.GetResult(o.Recompute) is { Implicit: false } ? parse.GetValue(o.Recompute) : preset is not null;
        var defaultLocation = preset is not null ? TensorLocation.Streaming : TensorLocation.OnChip;
        var weights = parse.GetValue(o.WeightsLocation) is { } w ? PlacementPlan.ParseLocation(w, "--weights-location") : defaultLocation;
        var optimizer = parse.GetValue(o.OptimizerLocation) is { } opt ? PlacementPlan.ParseLocation(opt, "--optimizer-location") : defaultLocation;
        var schedule = parse.GetValue(o.Schedule) is { } s ? ParseSchedule(s) : PipelineSchedule.GPipe;
        var plan = PlacementPlan.Create(model, tp, stages, replicas, schedule, recompute, weights, optimizer);
        if (parse.GetValue(o.EncoderLayers) is { } encoderLayers)
            plan = plan with { EncoderLayersPerStage = ParseCounts(encoderLayers, "--encoder-layers-per-stage") };
        if (parse.GetValue(o.DecoderLayers) is { } decoderLayers)
            plan = plan with { DecoderLayersPerStage = ParseCounts(decoderLayers, "--decoder-layers-per-stage") };
        plan.Validate(model);
        if (parse.GetValue(o.Ipus) is { } ipuCount && ipuCount != plan.IpuCount)
            throw new ArgumentException($"--ipus: {ipuCount} differs from tensor-parallel {tp} × pipeline-stages {stages} × replicas {replicas} = {plan.IpuCount}");
        var planTarget = preset is not null && preset.Ipus == plan.IpuCount && targetKind.Trim().ToLowerInvariant() == "mk2"
            ? preset.Target
            : IpuTarget.Parse(targetKind, plan.IpuCount);
        if (parse.GetValue(o.IpusPerLinkDomain) is { } domainIpus) planTarget = planTarget with { IpusPerLinkDomain = domainIpus };
        var instances = parse.GetValue(o.Instances) ?? (preset is not null && preset.Replicas == plan.Replicas ? preset.Instances : 1);
        if (instances < 1 || plan.Replicas % instances != 0)
            throw new ArgumentException($"--instances: {instances} does not divide the {plan.Replicas} replica(s); every instance drives the same number of whole replicas");
        var report = memory.Plan(model, plan, shape, planTarget);
        var time = cost.Estimate(model, plan, shape, planTarget);
        var launch = new Launch(instances, CostModel.LinkDomains(plan, planTarget).Domains, planTarget.IpusPerLinkDomain);
        if (json) output.WriteLine(JsonSerializer.Serialize(Describe(model, modelName, plan, shape, planTarget, report, time, launch), JsonOptions));
        else WriteText(output, model, modelName, plan, shape, planTarget, report, time, launch);
        return report.Fits ? Fits : DoesNotFit;
    }

    /// <summary><c>plan --inference</c>: the weights-only serving plan of <see cref="ServingPlan"/>.</summary>
    private static int ExecuteInference(ParseResult parse, Options o, TextWriter output)
    {
        foreach (var trainingOnly in new Option[] { o.MicroBatch, o.GlobalBatch, o.SeqLen, o.SrcLen, o.TgtLen, o.Recompute, o.Schedule, o.OptimizerLocation, o.Auto, o.Instances })
        {
            if (parse.GetResult(trainingOnly) is { Implicit: false })
                throw new ArgumentException($"{trainingOnly.Name}: plans training; a serving plan (--inference) takes --batch, --max-source-length and --max-target-length");
        }
        var preset = parse.GetValue(o.Preset) is { } presetName ? ReferencePresets.Find(presetName) : null;
        var config = parse.GetValue(o.Config) is { } configFile
            ? RunConfigLoader.Load(configFile, null, [], Environment.CurrentDirectory).Config
            : null;
        if (config is not null && preset is not null) throw new ArgumentException("--config: give either --config FILE or --preset NAME, not both");
        var configModel = config is not null
            ? RunConfigPlacementCheck.ModelOf(config)
              ?? throw new ArgumentException($"--config: {parse.GetValue(o.Config)} names no model to plan (model.architecture, or model.checkpoint with a config.json)")
            : ((T5ModelConfig, string)?)null;
        var (model, modelName) = parse.GetValue(o.Model) is { } modelArg
            ? LoadModel(modelArg)
            : configModel is { } fromConfig
                ? fromConfig
                : preset is not null
                    ? (preset.Model, $"flan-t5-{preset.ModelSize}")
                    : throw new ArgumentException("--model: required (flan-t5-small|base|large|xl|xxl or a directory with config.json) unless --preset or --config is given");
        var shape = new ServingShape
        {
            Batch = parse.GetValue(o.Batch) ?? (config is not null ? config.Inference.BatchSize * config.Inference.NumBeams : 1),
            SourceLength = parse.GetValue(o.MaxSourceLength) ?? config?.Model.SourceLength ?? 512,
            TargetLength = parse.GetValue(o.MaxTargetLength) ?? config?.Inference.MaxNewTokens ?? 20,
            Precision = parse.GetValue(o.Precision) is { } p ? NumericPrecisionExtensions.Parse(p, "--precision")
                : config?.Model.Precision == Precision.Fp32 ? NumericPrecision.Fp32 : NumericPrecision.Fp16,
        };
        var tp = parse.GetValue(o.TensorParallel) ?? config?.Execution.TensorParallel ?? preset?.TensorParallel ?? 1;
        var stages = parse.GetValue(o.PipelineStages) ?? config?.Execution.PipelineStages ?? 1;
        int replicas;
        if (parse.GetValue(o.Replicas) is { } r) replicas = r;
        else if (parse.GetValue(o.Ipus) is { } total)
        {
            if (tp < 1 || stages < 1 || total % (tp * stages) != 0)
                throw new ArgumentException($"--ipus: {total} is not a multiple of tensor-parallel {tp} × pipeline-stages {stages}");
            replicas = total / (tp * stages);
        }
        else replicas = config?.Execution.DataParallel ?? 1;
        var weights = parse.GetValue(o.WeightsLocation) is { } w ? PlacementPlan.ParseLocation(w, "--weights-location")
            : config?.Execution.WeightsLocation ?? TensorLocation.OnChip;
        var plan = PlacementPlan.Create(model, tp, stages, replicas, weights: weights, optimizer: weights);
        if (parse.GetValue(o.EncoderLayers) is { } encoderLayers)
            plan = plan with { EncoderLayersPerStage = ParseCounts(encoderLayers, "--encoder-layers-per-stage") };
        if (parse.GetValue(o.DecoderLayers) is { } decoderLayers)
            plan = plan with { DecoderLayersPerStage = ParseCounts(decoderLayers, "--decoder-layers-per-stage") };
        plan.Validate(model);
        if (parse.GetValue(o.Ipus) is { } ipuCount && ipuCount != plan.IpuCount)
            throw new ArgumentException($"--ipus: {ipuCount} differs from tensor-parallel {tp} × pipeline-stages {stages} × replicas {replicas} = {plan.IpuCount}");
        var target = IpuTarget.Parse(parse.GetValue(o.Target)!, plan.IpuCount);
        var serving = ServingPlan.Make(model, plan, shape, target);
        if (parse.GetValue(o.Json)) output.WriteLine(JsonSerializer.Serialize(serving.Describe(modelName), JsonOptions));
        else serving.WriteText(output, modelName);
        return serving.Memory.Fits ? Fits : DoesNotFit;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>How the run is launched: host instances, and the IPU-Link domains its IPUs span.</summary>
    private sealed record Launch(int Instances, int LinkDomains, int IpusPerLinkDomain)
    {
        public static Launch Single(PlacementPlan plan, IpuTarget target) =>
            new(1, CostModel.LinkDomains(plan, target).Domains, target.IpusPerLinkDomain);
    }

    private static object Describe(T5ModelConfig model, string modelName, PlacementPlan plan, TrainingShape shape,
        IpuTarget target, MemoryReport report, StepTimeEstimate time, Launch? launch = null)
    {
        var reference = ReferencePresets.Match(model, plan, shape);
        return new
        {
            model = modelName,
            parameters = model.ParameterCount(),
            plan = new
            {
                tensorParallel = plan.TensorParallel,
                pipelineStages = plan.PipelineStages,
                replicas = plan.Replicas,
                encoderLayersPerStage = plan.EncoderLayersPerStage,
                decoderLayersPerStage = plan.DecoderLayersPerStage,
                schedule = plan.Schedule == PipelineSchedule.GPipe ? "gpipe" : "1f1b",
                recompute = plan.Recompute,
                weightsLocation = PlacementPlan.LocationName(plan.WeightsLocation),
                optimizerLocation = PlacementPlan.LocationName(plan.OptimizerLocation),
                phasedExecution = plan.PhasedExecution,
            },
            shape = new
            {
                microBatch = shape.MicroBatch,
                sourceLength = shape.SourceLength,
                targetLength = shape.TargetLength,
                globalBatch = shape.GlobalBatch,
                precision = shape.Precision.Name(),
                optimizerStatePrecision = shape.OptimizerStatePrecision.Name(),
                accumulatorPrecision = shape.AccumulatorPrecision.Name(),
            },
            gradientAccumulation = shape.GradientAccumulation(plan),
            launch = (launch ?? Launch.Single(plan, target)) is var l
                ? new { instances = l.Instances, replicasPerInstance = plan.Replicas / l.Instances, linkDomains = l.LinkDomains, ipusPerLinkDomain = l.IpusPerLinkDomain }
                : null,
            target = target.Name,
            fits = report.Fits,
            overflow = report.OverflowMessage,
            ipus = report.Ipus.Select(i => new
            {
                ipu = i.Ipu, replica = i.Replica, stage = i.Stage, tpRank = i.TpRank,
                weights = i.Weights, gradients = i.Gradients, optimizerState = i.OptimizerState,
                optimizerStateResident = i.OptimizerStateResident,
                activations = i.Activations, workingSet = i.WorkingSet, overhead = i.Overhead,
                total = i.Total, capacity = i.Capacity, streamingUsed = i.StreamingUsed, streamingCapacity = i.StreamingCapacity,
                inFlightMicroBatches = i.InFlightMicroBatches, fits = i.Fits,
                largestTensors = i.LargestTensors,
            }),
            stepTime = new
            {
                totalSeconds = time.TotalSeconds,
                components = time.Components.ToDictionary(c => c.Name, c => c.Seconds),
                computeEfficiency = time.ComputeEfficiency,
                samplesPerSecond = shape.GlobalBatch / time.TotalSeconds,
            },
            reference = reference is null ? null : new { preset = reference.Name, publishedStepSeconds = reference.PublishedStepSeconds },
        };
    }

    private static void WriteText(TextWriter output, T5ModelConfig model, string modelName, PlacementPlan plan,
        TrainingShape shape, IpuTarget target, MemoryReport report, StepTimeEstimate time, Launch? launch = null)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv,
            $"Model   {modelName}: d_model {model.DModel}, {model.NumHeads} heads, d_ff {model.DFf}, {model.NumLayers}+{model.NumDecoderLayers} layers, {model.ParameterCount() / 1e9:0.00}B parameters"));
        output.WriteLine($"Plan    {plan.Describe()}");
        launch ??= Launch.Single(plan, target);
        output.WriteLine($"Launch  {launch.Instances} instance(s) x {plan.Replicas / launch.Instances} replica(s)" +
                         (launch.Instances > 1 ? $" (poprun --num-instances {launch.Instances} --num-replicas {plan.Replicas} --ipus-per-replica {plan.IpusPerReplica})" : "") +
                         $"; {launch.LinkDomains} IPU-Link domain(s) of up to {launch.IpusPerLinkDomain} IPUs" +
                         (launch.LinkDomains > 1 ? ", joined by GW-Links" : ", so no gradient crosses a GW-Link"));
        output.WriteLine($"Target  {target.Name}: {plan.IpuCount} IPUs x {ByteSize.Format(target.OnChipBytesPerIpu)} on-chip, {ByteSize.Format(target.StreamingBytesPerIpu)} streaming memory each");
        output.WriteLine($"Step    global batch {shape.GlobalBatch} = {plan.Replicas} replica(s) x {shape.GradientAccumulation(plan)} micro-batches x {shape.MicroBatch}; " +
                         $"seq {shape.SourceLength}/{shape.TargetLength}; {shape.Precision.Name()} (Adam m,v {shape.OptimizerStatePrecision.Name()}, gradient accumulators {shape.AccumulatorPrecision.Name()})");
        output.WriteLine();
        WriteMemoryTable(output, report);
        output.WriteLine();
        var peak = report.Ipus.MaxBy(i => i.Total)!;
        output.WriteLine(report.Fits
            ? string.Create(inv, $"Fits: yes; peak {ByteSize.Format(peak.Total)} of {ByteSize.Format(peak.Capacity)} on-chip ({100.0 * peak.Total / peak.Capacity:0} %), overhead reserve {100 * MemoryPlanner.DefaultOverheadFraction:0} % of tile memory")
            : $"Fits: NO; {report.OverflowMessage}");
        output.WriteLine();
        output.WriteLine(string.Create(inv,
            $"Predicted step time {time.TotalSeconds:0.0} s ({shape.GlobalBatch / time.TotalSeconds:0.00} samples/s), compute efficiency {100 * time.ComputeEfficiency:0.00} % of peak"));
        foreach (var (name, seconds) in time.Components)
            output.WriteLine(string.Create(inv, $"  {name,-28} {seconds,9:0.000} s"));
        var reference = ReferencePresets.Match(model, plan, shape);
        if (reference is not null)
        {
            output.WriteLine(reference.PublishedStepSeconds is { } published
                ? string.Create(inv, $"Reference {reference.Name}: published {published:0.0} s per step; predicted / published = {time.TotalSeconds / published:0.00}")
                : $"Reference {reference.Name}: no published step time");
        }
    }

    /// <summary>One row per set of IPUs with identical numbers (<see cref="IpuGroups"/>).</summary>
    private static void WriteMemoryTable(TextWriter output, MemoryReport report)
    {
        string[] header = ["IPU", "stage", "weights", "grads", "optimizer", "activations", "working", "overhead", "total", "capacity", "streaming", "fits"];
        var rows = new List<string[]>();
        foreach (var group in IpuGroups.Of(report.Ipus, SameNumbers))
        {
            var m = report.Ipus[group[0]];
            rows.Add(
            [
                IpuGroups.Format(group), $"{m.Stage}", ByteSize.Format(m.Weights), ByteSize.Format(m.Gradients),
                ByteSize.Format(m.OptimizerState) + (m.OptimizerStateResident ? "" : " (update)"),
                $"{ByteSize.Format(m.Activations)} (x{m.InFlightMicroBatches})",
                ByteSize.Format(m.WorkingSet), ByteSize.Format(m.Overhead), ByteSize.Format(m.Total), ByteSize.Format(m.Capacity),
                m.StreamingUsed > 0 ? ByteSize.Format(m.StreamingUsed) : "-",
                m.Fits ? "yes" : m.FitsOnChip ? "NO (streaming)" : "NO",
            ]);
        }
        var widths = header.Select((h, c) => Math.Max(h.Length, rows.Max(r => r[c].Length))).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd();
        output.WriteLine(Line(header));
        output.WriteLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        foreach (var row in rows) output.WriteLine(Line(row));
    }

    private static bool SameNumbers(IpuMemory a, IpuMemory b) =>
        a.Stage == b.Stage && a.Weights == b.Weights && a.Gradients == b.Gradients && a.OptimizerState == b.OptimizerState
        && a.OptimizerStateResident == b.OptimizerStateResident
        && a.Activations == b.Activations && a.WorkingSet == b.WorkingSet && a.StreamingUsed == b.StreamingUsed;

    private static (T5ModelConfig, string) LoadModel(string argument)
    {
        var name = argument.Trim().ToLowerInvariant();
        var size = name.StartsWith("flan-t5-", StringComparison.Ordinal) ? name["flan-t5-".Length..] : name;
        if (size is "small" or "base" or "large" or "xl" or "xxl" && !Directory.Exists(argument))
            return (T5ModelConfig.FlanT5(size), $"flan-t5-{size}");
        var path = Directory.Exists(argument) ? Path.Combine(argument, "config.json") : argument;
        if (!File.Exists(path))
            throw new ArgumentException($"--model: '{argument}' is neither flan-t5-small|base|large|xl|xxl nor a directory with config.json ({path} not found)");
        return (T5ModelConfig.Load(path), Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))) ?? argument);
    }

    private static int[] ParseCounts(string text, string option) =>
        text.Split(',', StringSplitOptions.TrimEntries).Select(part =>
            int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw new ArgumentException($"{option}: '{part}' in '{text}' is not a layer count; expected e.g. 12,12,0,0")).ToArray();

    private static PipelineSchedule ParseSchedule(string text) => text.Trim().ToLowerInvariant() switch
    {
        "gpipe" => PipelineSchedule.GPipe,
        "1f1b" or "one-f-one-b" => PipelineSchedule.OneFOneB,
        _ => throw new ArgumentException($"--schedule: '{text}' is not a schedule; expected gpipe or 1f1b"),
    };
}
