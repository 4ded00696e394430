namespace FlanT5.Poplar.Placement;

/// <summary>Order of forward and backward passes over micro-batches. Values match ft5_pipeline_schedule in ft5.h.</summary>
public enum PipelineSchedule
{
    /// <summary>All forwards, then all backwards: every stage keeps the activations of every micro-batch.</summary>
    GPipe = 0,
    /// <summary>One forward, one backward in steady state: stage s keeps at most (stages − s) micro-batches.</summary>
    OneFOneB = 1,
}
