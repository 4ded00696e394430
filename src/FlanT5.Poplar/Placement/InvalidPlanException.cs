namespace FlanT5.Poplar.Placement;

/// <summary>A placement plan or training shape that cannot work; <see cref="Field"/> names the offending setting.</summary>
public sealed class InvalidPlanException(string field, string message) : Exception($"{field}: {message}")
{
    /// <summary>The plan or shape setting at fault, spelled as in ft5_plan_desc (e.g. "tensor_parallel").</summary>
    public string Field { get; } = field;
}
