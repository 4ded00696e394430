using System.Globalization;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Placement;

namespace FlanT5.Poplar.Cli.Commands;

/// <summary>
/// What <c>flant5 plan --inference</c> prints: the per-IPU memory of a weights-only session
/// (<see cref="ServingPlanner"/>), the single changes that make a plan fit when it does not, and the predicted decode
/// speed (<see cref="DecodeCostModel"/>) with the assumptions behind it.
/// </summary>
internal sealed record ServingPlan(
    T5ModelConfig Model, PlacementPlan Plan, ServingShape Shape, IpuTarget Target, ServingMemoryReport Memory,
    DecodeTimeEstimate Time, IReadOnlyList<(ServingAlternative Alternative, DecodeTimeEstimate Time)> WaysToFit)
{
    /// <summary>The command that runs a serving plan's placement.</summary>
    public const string HowToRun =
        "`flant5 generate --precision fp16|fp32 --tensor-parallel N --pipeline-stages N --weights-location on-chip|streaming` " +
        "runs this placement on the emulator";

    public static ServingPlan Make(T5ModelConfig model, PlacementPlan plan, ServingShape shape, IpuTarget target)
    {
        var planner = new ServingPlanner();
        var cost = new DecodeCostModel();
        var memory = planner.Plan(model, plan, shape, target);
        var ways = memory.Fits
            ? []
            : planner.WaysToFit(model, plan, shape, target).Select(a => (a, cost.Estimate(model, a.Plan, a.Shape, a.Target))).ToArray();
        return new ServingPlan(model, plan, shape, target, memory, cost.Estimate(model, plan, shape, target), ways);
    }

    private string Placement =>
        $"TP{Plan.TensorParallel} x PP{Plan.PipelineStages} x DP{Plan.Replicas} ({Plan.IpuCount} IPUs), weights " +
        (Plan.PhasedExecution ? "streaming (phased: each layer is loaded from streaming memory when it runs)" : "on-chip");

    public IReadOnlyList<string> Assumptions
    {
        get
        {
            var inv = CultureInfo.InvariantCulture;
            var list = new List<string>
            {
                string.Create(inv, $"greedy decoding with a KV cache, one batch in flight; a step is the mean of the {Shape.TargetLength} steps of a generation (attention over (T + 1) / 2 cached positions)"),
                string.Create(inv, $"compute at {100 * Time.ComputeEfficiency:0.00} % of the {Shape.Precision.Name()} peak ({Target.PeakFlopsPerSecond(Shape.Precision) / 1e12:0.#} TFLOPS per IPU), the efficiency fitted to the reference fine-tuning step times; decode matmuls ([{Shape.Batch} x {Model.DModel}] rows) are thinner still, so this is if anything optimistic"),
                string.Create(inv, $"every step reads the decoder weights, the LM head and the KV cache once from tile memory at {Target.TileMemoryBytesPerSecond / 1e12:0.#} TB/s"),
                string.Create(inv, $"tensor parallel: 3 ring all-reduces of [B,1,d] per decoder layer, 1 for the embedding, 1 all-gather for the greedy pick, over IPU-Links at {Target.IpuLinkBytesPerSecond / 1e9:0} GB/s, one sync ({Target.SyncSeconds * 1e9:0} ns) each; no other per-collective latency is counted, which for messages this small is what real links spend most, so with weights on chip and few rows the prediction is an upper bound"),
                "compute, memory, link and sync terms are added, not overlapped (bulk-synchronous execution)",
            };
            if (Plan.PhasedExecution)
                list.Add(string.Create(inv, $"phased: every step loads the embedding, decoder blocks and LM head from streaming memory at {Target.StreamingBytesPerSecond / 1e9:0} GB/s per IPU; the KV cache stays on chip"));
            return list;
        }
    }

    public void WriteText(TextWriter output, string modelName)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv,
            $"Model    {modelName}: d_model {Model.DModel}, {Model.NumHeads} heads, d_ff {Model.DFf}, {Model.NumLayers}+{Model.NumDecoderLayers} layers, {Model.ParameterCount() / 1e9:0.00}B parameters"));
        output.WriteLine($"Serving  weights only (no gradients, no optimizer state): {Placement}");
        output.WriteLine($"Target   {Target.Name}: {Plan.IpuCount} IPUs x {ByteSize.Format(Target.OnChipBytesPerIpu)} on-chip, {ByteSize.Format(Target.StreamingBytesPerIpu)} streaming memory each");
        output.WriteLine($"Shape    batch {Shape.Batch} rows, source <= {Shape.SourceLength} tokens, target <= {Shape.TargetLength} tokens; " +
                         $"weights, KV cache and activations {Shape.Precision.Name()} ({Shape.Precision.Bytes()} bytes/element)");
        output.WriteLine();
        WriteTable(output);
        output.WriteLine();
        var peak = Memory.Ipus.MaxBy(i => i.Total)!;
        output.WriteLine($"Largest on-chip tensors of {peak.Where}:");
        foreach (var tensor in peak.LargestTensors) output.WriteLine($"  {ByteSize.Format(tensor.Bytes),9}  {tensor.Name}");
        output.WriteLine();
        if (Memory.Fits)
        {
            output.WriteLine(string.Create(inv,
                $"Fits: yes; peak {ByteSize.Format(peak.Total)} of {ByteSize.Format(peak.Capacity)} on-chip ({100.0 * peak.Total / peak.Capacity:0} %), overhead reserve {100 * MemoryPlanner.DefaultOverheadFraction:0} % of tile memory"));
        }
        else
        {
            output.WriteLine($"Fits: NO; {Memory.OverflowMessage}");
            output.WriteLine(WaysToFit.Count == 0
                ? "No single change fits: raise the tensor-parallel degree and stream the weights, or shorten --max-source-length / --max-target-length"
                : "To fit, change one of:");
            foreach (var (alternative, time) in WaysToFit)
                output.WriteLine(string.Create(inv,
                    $"  {Flag(alternative.Change),-30} {alternative.Plan.IpuCount} IPU{(alternative.Plan.IpuCount == 1 ? "" : "s")}, peak {ByteSize.Format(alternative.Memory.PeakOnChip)} per IPU, predicted {time.DecodeTokensPerSecond:0} tokens/s decoding"));
        }
        output.WriteLine();
        output.WriteLine(string.Create(inv,
            $"Predicted decoding: {Time.StepSeconds * 1e3:0.000} ms per step (one token for each of {Shape.Batch} rows{(Plan.Replicas > 1 ? $" on each of {Plan.Replicas} replicas" : "")}), {Time.DecodeTokensPerSecond:0} tokens/s while decoding"));
        output.WriteLine(string.Create(inv,
            $"  prefill (encoder + cross-attention K/V, once per batch) {Time.PrefillSeconds * 1e3:0.000} ms; {Time.TokensPerSecond:0} tokens/s over a batch generating {Shape.TargetLength} tokens per row"));
        foreach (var (name, seconds) in Time.Components)
            output.WriteLine(string.Create(inv, $"  {name,-28} {seconds * 1e3,9:0.000} ms"));
        output.WriteLine("Assumptions:");
        foreach (var assumption in Assumptions) output.WriteLine($"  - {assumption}");
        output.WriteLine($"Run it: {HowToRun}.");
    }

    /// <summary>The plan option that makes a change: "tensor-parallel 8" → "--tensor-parallel 8".</summary>
    private static string Flag(string change) => change switch
    {
        "weights streaming" => "--weights-location streaming",
        var c when c.StartsWith("batch ", StringComparison.Ordinal) => "--batch " + c["batch ".Length..],
        var c => "--" + c,
    };

    public object Describe(string modelName) => new
    {
        model = modelName,
        parameters = Model.ParameterCount(),
        serving = new
        {
            tensorParallel = Plan.TensorParallel,
            pipelineStages = Plan.PipelineStages,
            replicas = Plan.Replicas,
            weightsLocation = PlacementPlan.LocationName(Plan.WeightsLocation),
            phasedExecution = Plan.PhasedExecution,
        },
        shape = new { batch = Shape.Batch, maxSourceLength = Shape.SourceLength, maxTargetLength = Shape.TargetLength, precision = Shape.Precision.Name() },
        target = Target.Name,
        fits = Memory.Fits,
        overflow = Memory.OverflowMessage,
        waysToFit = WaysToFit.Select(w => new
        {
            change = Flag(w.Alternative.Change),
            ipus = w.Alternative.Plan.IpuCount,
            peakOnChipBytes = w.Alternative.Memory.PeakOnChip,
            decodeTokensPerSecond = w.Time.DecodeTokensPerSecond,
        }),
        ipus = Memory.Ipus.Select(i => new
        {
            ipu = i.Ipu, replica = i.Replica, stage = i.Stage, tpRank = i.TpRank,
            weights = i.Weights, kvCache = i.KvCache, encoderOutput = i.EncoderOutput, workingSet = i.WorkingSet,
            overhead = i.Overhead, total = i.Total, capacity = i.Capacity, streamingUsed = i.StreamingUsed,
            streamingCapacity = i.StreamingCapacity, fits = i.Fits, largestTensors = i.LargestTensors,
        }),
        decode = new
        {
            stepSeconds = Time.StepSeconds,
            components = Time.Components.ToDictionary(c => c.Name, c => c.Seconds),
            prefillSeconds = Time.PrefillSeconds,
            decodeTokensPerSecond = Time.DecodeTokensPerSecond,
            tokensPerSecond = Time.TokensPerSecond,
            computeEfficiency = Time.ComputeEfficiency,
        },
        assumptions = Assumptions,
        note = HowToRun,
    };

    /// <summary>One row per run of consecutive IPUs with identical numbers ("0-3").</summary>
    private void WriteTable(TextWriter output)
    {
        string[] header = ["IPU", "stage", "weights", "KV cache", "encoder out", "working", "overhead", "total", "capacity", "streaming", "fits"];
        var rows = new List<string[]>();
        foreach (var group in IpuGroups.Of(Memory.Ipus, (a, b) => b with { Ipu = a.Ipu, Replica = a.Replica, TpRank = a.TpRank } == a))
        {
            var m = Memory.Ipus[group[0]];
            rows.Add(
            [
                IpuGroups.Format(group), $"{m.Stage}", ByteSize.Format(m.Weights), ByteSize.Format(m.KvCache),
                ByteSize.Format(m.EncoderOutput), ByteSize.Format(m.WorkingSet), ByteSize.Format(m.Overhead),
                ByteSize.Format(m.Total), ByteSize.Format(m.Capacity), m.StreamingUsed > 0 ? ByteSize.Format(m.StreamingUsed) : "-",
                m.Fits ? "yes" : m.FitsOnChip ? "NO (streaming)" : "NO",
            ]);
        }
        var widths = header.Select((h, c) => Math.Max(h.Length, rows.Max(r => r[c].Length))).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd();
        output.WriteLine(Line(header));
        output.WriteLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        foreach (var row in rows) output.WriteLine(Line(row));
    }
}
