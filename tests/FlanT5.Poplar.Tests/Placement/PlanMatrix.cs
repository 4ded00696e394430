using PipelineSchedule = FlanT5.Poplar.Placement.PipelineSchedule;

namespace FlanT5.Poplar.Tests.Placement;

/// <summary>
/// The plans the planner and the cost model are held to against the emulated engine: tensor, pipeline and data
/// parallel alone and together, GPipe and 1F1B, several micro-batches, recomputation. Arguments: tp, pp, dp,
/// schedule, micro-batches, recompute.
/// </summary>
internal static class PlanMatrix
{
    public static IEnumerable<TestCaseData> Plans()
    {
        yield return new TestCaseData(1, 1, 1, PipelineSchedule.GPipe, 1, false);
        yield return new TestCaseData(2, 1, 1, PipelineSchedule.GPipe, 1, false);
        yield return new TestCaseData(4, 1, 1, PipelineSchedule.GPipe, 1, false);
        yield return new TestCaseData(2, 2, 1, PipelineSchedule.GPipe, 1, false);
        yield return new TestCaseData(1, 2, 2, PipelineSchedule.GPipe, 1, false);
        yield return new TestCaseData(1, 1, 1, PipelineSchedule.GPipe, 4, false);
        yield return new TestCaseData(1, 2, 1, PipelineSchedule.GPipe, 4, false);
        yield return new TestCaseData(1, 2, 1, PipelineSchedule.OneFOneB, 4, false);
        yield return new TestCaseData(2, 2, 1, PipelineSchedule.OneFOneB, 4, false);
        yield return new TestCaseData(1, 4, 1, PipelineSchedule.GPipe, 4, false);
        yield return new TestCaseData(1, 4, 1, PipelineSchedule.OneFOneB, 4, false);
        yield return new TestCaseData(1, 2, 2, PipelineSchedule.OneFOneB, 3, false);
        yield return new TestCaseData(1, 2, 1, PipelineSchedule.GPipe, 4, true);
        yield return new TestCaseData(2, 2, 1, PipelineSchedule.OneFOneB, 4, true);
    }
}
