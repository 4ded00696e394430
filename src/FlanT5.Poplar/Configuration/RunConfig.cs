namespace FlanT5.Poplar.Configuration;

/// <summary>
/// Everything a fine-tuning or evaluation run needs, in the sections of the reference implementation.
/// The defaults are the tiny-emulator preset (configs/tiny-emulator.yaml); <see cref="RunConfigLoader"/> reads
/// YAML/JSON files and <c>--set</c> overrides on top of them, <see cref="RunConfigValidator"/> checks consistency.
/// </summary>
public sealed record RunConfig
{
    public ModelSection Model { get; init; } = new();
    public TrainingSection Training { get; init; } = new();
    public ExecutionSection Execution { get; init; } = new();
    public DataSection Data { get; init; } = new();
    public CheckpointSection Checkpoint { get; init; } = new();
    public InferenceSection Inference { get; init; } = new();
    public OutputSection Output { get; init; } = new();

    /// <summary>The tiny-emulator preset.</summary>
    public static RunConfig Default { get; } = new();

    /// <summary>Micro-batches accumulated per optimizer step: global_batch / (data_parallel × micro_batch).</summary>
    public int GradientAccumulation =>
        Training.GlobalBatchSize / (Execution.DataParallel * Execution.MicroBatchSize);

    /// <summary>IPUs one replica spans: tensor_parallel × pipeline_stages.</summary>
    public int IpusPerReplica => Execution.TensorParallel * Execution.PipelineStages;

    /// <summary>All IPUs of the run: data_parallel × tensor_parallel × pipeline_stages.</summary>
    public int Ipus => Execution.DataParallel * IpusPerReplica;

    /// <summary>Data-parallel replicas each instance drives: data_parallel / instances.</summary>
    public int ReplicasPerInstance => Execution.DataParallel / Math.Max(1, Execution.Instances);

    /// <summary>Samples consumed by the whole run.</summary>
    public long TotalSamples => (long)Training.Steps * Training.GlobalBatchSize;

    /// <summary>The checkpoint directory: <c>checkpoint.dir</c> or <c>{output.run_dir}/checkpoints</c>.</summary>
    public string CheckpointDirectory => Checkpoint.Dir ?? Path.Combine(Output.RunDir, "checkpoints");
}
