namespace FlanT5.Poplar.Training;

/// <summary>
/// A training step stopped at the first op that overflowed (execution.detect_overflow): the message says which step
/// and micro-batch, and the device's report names the op (a projection by its parameter) with the ranges of its
/// inputs and output.
/// </summary>
public sealed class OverflowDetectedException(int step, int steps, Interop.Ft5FloatingPointException inner)
    : Exception($"step {step} of {steps}: {inner.NativeMessage}", inner)
{
    public int Step { get; } = step;
}
