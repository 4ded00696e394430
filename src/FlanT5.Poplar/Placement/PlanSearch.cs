using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>A plan the search tried, with its memory plan and predicted step time.</summary>
public sealed record PlanCandidate(PlacementPlan Plan, MemoryReport Memory, StepTimeEstimate Time);

/// <summary>
/// Exhaustive search over plans for a fixed number of IPUs: every tensor-parallel degree t that divides the IPU
/// count, num_heads and d_ff; every stage count p with t × p dividing the IPU count and p ≤ layers; replicas
/// d = IPUs / (t × p) when the global batch splits evenly; recomputation on and off; weights and optimizer state
/// on-chip or streaming (streamed weights only without pipelining); GPipe and 1F1B when p > 1; beyond one IPU-Link
/// domain, only replicas that fill whole domains. Keeps the plans that fit, fastest first.
/// </summary>
public sealed class PlanSearch(MemoryPlanner memory, CostModel cost)
{
    public IReadOnlyList<PlanCandidate> FittingPlans(T5ModelConfig model, TrainingShape shape, IpuTarget target,
        EmbeddingLayout layout = EmbeddingLayout.Shared) =>
        Candidates(model, shape, target.IpuCount)
            .Where(plan => CostModel.FitsLinkDomains(plan, target)) // a replica never straddles two IPU-Link domains
            .Select(plan => (plan, report: memory.Plan(model, plan, shape, target, layout)))
            .Where(x => x.report.Fits)
            .Select(x => new PlanCandidate(x.plan, x.report, cost.Estimate(model, x.plan, shape, target, layout)))
            .OrderBy(c => c.Time.TotalSeconds)
            .ThenBy(c => c.Memory.PeakOnChip)
            .ToArray();

    /// <summary>Every valid plan using exactly <paramref name="ipus"/> IPUs for this model and shape.</summary>
    public static IEnumerable<PlacementPlan> Candidates(T5ModelConfig model, TrainingShape shape, int ipus)
    {
        var layers = model.NumLayers + model.NumDecoderLayers;
        for (var t = 1; t <= ipus; t++)
        {
            if (ipus % t != 0 || model.NumHeads % t != 0 || model.DFf % t != 0) continue;
            for (var p = 1; p <= ipus / t && p <= layers; p++)
            {
                if (ipus / t % p != 0) continue;
                var d = ipus / (t * p);
                if (shape.GlobalBatch % (d * shape.MicroBatch) != 0) continue;
                PipelineSchedule[] schedules = p > 1 ? [PipelineSchedule.OneFOneB, PipelineSchedule.GPipe] : [PipelineSchedule.GPipe];
                foreach (var schedule in schedules)
                foreach (var recompute in new[] { true, false })
                foreach (var weights in new[] { TensorLocation.OnChip, TensorLocation.Streaming })
                foreach (var optimizer in new[] { TensorLocation.OnChip, TensorLocation.Streaming })
                {
                    if (weights == TensorLocation.Streaming && p > 1) continue;
                    yield return PlacementPlan.Create(model, t, p, d, schedule, recompute, weights, optimizer);
                }
            }
        }
    }
}
