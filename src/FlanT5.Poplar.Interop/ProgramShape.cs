namespace FlanT5.Poplar.Interop;

/// <summary>
/// A shape a session will run, in its calls' terms (ft5_program_shape): a batch of <see cref="BatchSize"/> rows of
/// <see cref="SourceLength"/> → <see cref="TargetLength"/> tokens (<see cref="MicroBatches"/> per pipelined step), or
/// a decode of <see cref="BatchSize"/> rows with room for <see cref="TargetLength"/> steps.
/// </summary>
public sealed record ProgramShape(ProgramKind Kind, int BatchSize, int SourceLength, int TargetLength,
    int MicroBatches = 1, bool Training = false)
{
    public static ProgramShape Batch(int batchSize, int sourceLength, int targetLength, bool training = false,
        int microBatches = 1) => new(ProgramKind.Batch, batchSize, sourceLength, targetLength, microBatches, training);

    public static ProgramShape Decode(int batchSize, int sourceLength, int maxSteps) =>
        new(ProgramKind.Decode, batchSize, sourceLength, maxSteps);
}
