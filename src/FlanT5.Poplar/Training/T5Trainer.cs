using System.Diagnostics;
using System.Text;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Data;
using FlanT5.Poplar.Evaluation;
using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Placement;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Training;

/// <summary>How a training run ended.</summary>
public sealed record TrainingOutcome(
    int StepsCompleted,
    int StepsPlanned,
    long Samples,
    double TrainSeconds,
    double? FinalLoss,
    int SkippedSteps,
    bool Interrupted,
    string? LastCheckpoint)
{
    /// <summary>Training rows cut to the sequence lengths.</summary>
    public TruncationCount Truncation { get; init; } = TruncationCount.None;

    public double SamplesPerSecond => TrainSeconds > 0 ? Samples / TrainSeconds : 0;
}

/// <summary>
/// Fine-tunes, evaluates and exports Flan-T5, as the reference implementation's T5Trainer does:
/// <c>new T5Trainer(config, pretrained, dataset, evalDataset, evalConfig, tokenizer, metric, postprocess)</c>,
/// then <see cref="TrainAsync"/>, <see cref="Evaluate(string)"/>, <see cref="SaveHfCheckpoint"/>.
/// The host owns the schedule (learning rate, loss scale, clipping threshold) and hands it to the device each step;
/// the device holds weights, gradients and AdamW state.
/// </summary>
public sealed class T5Trainer : IDisposable
{
    private readonly RunConfig _config;
    private readonly IReadOnlyList<Seq2SeqExample> _dataset;
    private readonly InferenceSection _evalConfig;
    private readonly T5Tokenizer _tokenizer;
    private readonly LabelSet _metric;
    private readonly Func<string, string> _postprocess;
    private readonly LearningRateSchedule _schedule;
    private readonly DynamicLossScaler _lossScaler;
    private readonly NonFiniteGuard _guard = new();
    private readonly DataLoader? _loader;
    private DataCursor _cursor;
    private readonly InstanceLayout _launch;
    private int _step;
    private long _optimizerStep;

    /// <param name="config">The run configuration (training, execution, checkpoint sections are used).</param>
    /// <param name="pretrained">Weights to start from: an opened Hugging Face checkpoint or any model tensor source.</param>
    /// <param name="dataset">Training examples (prompt, target text); may be empty for evaluation only.</param>
    /// <param name="evalDataset">Default examples for <see cref="Evaluate(string)"/>: prompt and gold label text.</param>
    /// <param name="evalConfig">Generation settings for evaluation.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="metric">The label words; generated text is classified against them (anything else is wrong).</param>
    /// <param name="postprocess">Applied to each generated text before classification (the reference's process_answers_func).</param>
    /// <param name="launch">This process's place in a run of several host instances: its session runs its own
    /// data-parallel replicas and it feeds them their rows of every micro-batch (null: one process, every replica).</param>
    public T5Trainer(RunConfig config, IModelTensorSource pretrained, IReadOnlyList<Seq2SeqExample> dataset,
        IReadOnlyList<Seq2SeqExample>? evalDataset, InferenceSection evalConfig, T5Tokenizer tokenizer, LabelSet metric,
        Func<string, string>? postprocess = null, InstanceLayout? launch = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(pretrained);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(metric);
        if (HalfPrecision.RefusedForRunning(config) is { Count: > 0 } refused)
            throw new NotSupportedException(string.Join("; ", refused.Select(p => $"{p.Key} {p.Message}")));
        _config = config;
        _dataset = dataset;
        EvalDataset = evalDataset ?? [];
        _evalConfig = evalConfig ?? config.Inference;
        _tokenizer = tokenizer;
        _metric = metric;
        _postprocess = postprocess ?? (s => s);
        _schedule = LearningRateSchedule.FromConfig(config.Training);
        _lossScaler = new DynamicLossScaler(config.Execution.LossScaling);
        _launch = launch ?? InstanceLayout.Single(config.Execution.DataParallel);
        if (dataset.Count > 0)
        {
            var options = new DataLoaderOptions
            {
                // one micro-batch of every data-parallel replica; this instance reads its replicas' rows alone
                BatchSize = config.Execution.MicroBatchSize,
                ReplicasPerInstance = _launch.LocalReplicas,
                InstanceIndex = _launch.InstanceIndex,
                InstanceCount = _launch.InstanceCount,
                Seed = config.Data.ShuffleSeed,
                Shuffle = true,
                DropLast = config.Data.DropLast,
                BucketWindow = config.Data.LengthBucketWindow,
                DecoderStartTokenId = pretrained.Config.DecoderStartTokenId,
                SourcePadding = PaddingOptions.Of(config.Data.Padding, config.Model.SourceLength),
                TargetPadding = PaddingOptions.Of(config.Data.Padding, config.Model.TargetLength),
                TokenizerThreads = Math.Max(1, Math.Min(2, Environment.ProcessorCount)),
            };
            _loader = new DataLoader(dataset, tokenizer, options);
        }
        var modelOptions = DeviceModelOptions.From(config);
        if (_launch.IsMultiInstance)
            modelOptions = modelOptions with { FirstLocalReplica = _launch.FirstReplica, LocalReplicas = _launch.LocalReplicas };
        if (_loader is not null && config.Data.Padding != PaddingMode.Longest)
            DeclaredShapes = TrainingShapes(_loader, config, _launch);
        modelOptions = modelOptions with { Shapes = DeclaredShapes };
        Model = DeviceModel.Load(pretrained, modelOptions);
        if (tokenizer.VocabSize > Model.Config.VocabSize)
        {
            Model.Dispose();
            throw new ArgumentException(
                $"the tokenizer has {tokenizer.VocabSize} ids but the model's vocabulary is {Model.Config.VocabSize}", nameof(tokenizer));
        }
        _cursor = DataCursor.Start(config.Data.ShuffleSeed);
        Checkpoints = new TrainingCheckpointStore(config.CheckpointDirectory, config.Checkpoint.Keep);
    }

    /// <summary>
    /// The batch shapes of the run's steps, compiled with the session's engine before the weights loaded (none when
    /// <c>data.padding</c> is longest: each batch's bucket compiles when first met).
    /// </summary>
    public IReadOnlyList<ProgramShape> DeclaredShapes { get; } = [];

    /// <summary>The model on the device (weights live there during training).</summary>
    public DeviceModel Model { get; }

    public IReadOnlyList<Seq2SeqExample> EvalDataset { get; }

    public TrainingCheckpointStore Checkpoints { get; }

    /// <summary>Optimizer steps done so far (resumed runs start from the checkpoint's step).</summary>
    public int Step => _step;

    public IReadOnlyList<SkippedStep> SkippedSteps => _guard.Skipped;

    /// <summary>A text2text pipeline over the live model, greedy or beam as the options say.</summary>
    public Text2TextPipeline Pipeline(GenerationOptions? options = null) =>
        new(new SessionDecoder(Model.Session), _tokenizer, options ?? GenerationOptionsFor(_evalConfig));

    /// <summary>
    /// The trained weights in a weights-only session of this process alone: a session that runs some of the run's
    /// replicas needs the other instances for each of its runs, and the instances evaluate different prompts.
    /// </summary>
    private DeviceModel LocalWeightsCopy()
    {
        var options = DeviceModelOptions.From(_config) with { Replicas = 1, WeightsOnly = true, DropoutRate = 0 };
        var copy = DeviceModel.Create(Model.Config, Model.Layout, options);
        try
        {
            copy.LoadWeights(Model.Slot(ParameterSlot.Weight));
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Trains up to the configured number of steps. Cancelling the token finishes the step in flight, saves a training
    /// checkpoint and returns with <see cref="TrainingOutcome.Interrupted"/> set; a NaN or infinite gradient skips the
    /// step (and lowers a dynamic loss scale) instead of corrupting the weights.
    /// </summary>
    /// <param name="observer">Told of every step.</param>
    /// <param name="cancellation">Asks the run to stop after the step in flight.</param>
    /// <param name="instances">The run's host instances (with a launch of several): they agree on stopping.</param>
    public async Task<TrainingOutcome> TrainAsync(IStepObserver? observer = null, CancellationToken cancellation = default,
        IInstanceGroup? instances = null)
    {
        if (_loader is null) throw new InvalidOperationException("no training dataset was given to the trainer");
        int steps = _config.Training.Steps;
        int accumulation = _config.GradientAccumulation;
        int every = _config.Checkpoint.Every;
        var clock = Stopwatch.StartNew();
        long samples = 0;
        double? lastLoss = null;
        string? lastCheckpoint = null;
        bool interrupted = false;
        var truncation = TruncationCount.None;
        // Every data-parallel replica holds the whole training state, so instance 0 alone writes it all.
        bool writesCheckpoints = _launch.InstanceIndex == 0;

        await using var batches = _loader.ReadAsync(_cursor, maxBatches: (long)(steps - _step) * accumulation, CancellationToken.None)
            .GetAsyncEnumerator(CancellationToken.None);
        while (_step < steps)
        {
            if (StopRequested(cancellation, instances))
            {
                interrupted = true;
                break;
            }
            double scale = _lossScaler.Scale;
            Model.Session.ZeroGradients();
            // The whole step's micro-batches go to the device at once, so that a pipelined plan runs its schedule
            // (GPipe or 1F1B) over them.
            var microBatches = new List<TokenBatch>(accumulation);
            for (int micro = 0; micro < accumulation; micro++)
            {
                if (!await batches.MoveNextAsync())
                    throw new InvalidOperationException($"the data loader ended before step {_step + 1} of {steps}");
                var batch = batches.Current;
                microBatches.Add(ToDevice(batch));
                _cursor = batch.Next ?? _cursor;
                samples += _loader.Options.GlobalBatchSize;
                truncation = truncation.Add(batch);
            }
            double lr = _schedule.At(_step);
            double loss;
            StepResult result;
            try
            {
                loss = Model.Session.ForwardBackward(microBatches, (float)scale).Sum(l => (double)l) / accumulation;
                result = Model.Session.OptimizerStep(Settings(lr, accumulation, scale));
            }
            catch (Ft5FloatingPointException overflow)
            {
                throw new OverflowDetectedException(_step + 1, steps, overflow);
            }
            bool finite = !result.SkippedNonFinite && double.IsFinite(loss);
            // Weights only turn non-finite through an applied update, and a non-finite step applies none: looking once
            // per run of skipped steps is enough (an XL model's weights take seconds to read back).
            if (!finite && _guard.ConsecutiveSkipped == 0) ThrowIfWeightsNotFinite(_step + 1);
            _lossScaler.Update(finite);
            _guard.Record(_step + 1, finite ? loss : double.NaN, result.GradNorm, scale);
            if (!result.SkippedNonFinite) _optimizerStep++;
            _step++;
            if (finite) lastLoss = loss;
            observer?.OnStep(new StepMetrics(_step, steps, loss, lr, result.GradNorm, scale,
                samples / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed.TotalSeconds, !finite));
            if (every > 0 && _step % every == 0 && _step < steps && writesCheckpoints) lastCheckpoint = SaveTrainingCheckpoint();
        }
        clock.Stop();
        if ((interrupted || _step == steps) && writesCheckpoints) lastCheckpoint = SaveTrainingCheckpoint();
        return new TrainingOutcome(_step, steps, samples, clock.Elapsed.TotalSeconds, lastLoss, _guard.SkippedCount,
            interrupted, lastCheckpoint) { Truncation = truncation };
    }

    /// <summary>The optimizer step's settings for the next step.</summary>
    private OptimizerStepSettings Settings(double lr, int accumulation, double scale) => new()
    {
        Step = _optimizerStep + 1,
        LearningRate = (float)lr,
        Beta1 = (float)_config.Training.Optimizer.Beta1,
        Beta2 = (float)_config.Training.Optimizer.Beta2,
        Eps = (float)_config.Training.Optimizer.Eps,
        WeightDecay = (float)_config.Training.Optimizer.WeightDecay,
        DecayAllParameters = !_config.Training.Optimizer.ExcludeNormAndBiasFromDecay,
        GradScale = (float)(accumulation * scale),
        MaxGradNorm = (float)_config.Training.GradientClipping,
    };

    /// <summary>
    /// Whether to stop before the next step. Across instances the stop is agreed at each step boundary: a signal
    /// reaches the instances at different moments, and one that stopped alone would leave the others waiting in the
    /// step's collectives; so every instance stops after the same step, and instance 0 saves it.
    /// </summary>
    private static bool StopRequested(CancellationToken cancellation, IInstanceGroup? instances)
    {
        bool mine = cancellation.IsCancellationRequested;
        if (instances is null || instances.Count == 1) return mine;
        return instances.AllGather([(byte)(mine ? 1 : 0)]).Any(b => b[0] != 0);
    }

    /// <summary>
    /// A step came out non-finite. From finite weights that is an overflow the step skip and loss scaling absorb; from
    /// weights that hold NaN or infinity no step can ever be finite, so training stops here naming the tensor.
    /// </summary>
    private void ThrowIfWeightsNotFinite(int step)
    {
        var weights = Model.Slot(ParameterSlot.Weight);
        float[] buffer = [];
        foreach (var t in weights.Tensors)
        {
            int n = checked((int)t.ElementCount);
            if (buffer.Length < n) buffer = new float[n];
            weights.ReadTensor(t.Name, buffer.AsSpan(0, n));
            NonFiniteWeights.ThrowIfAny(buffer.AsSpan(0, n), t.Name,
                $"step {step}: the loss is not finite because the weights are not");
        }
    }

    /// <summary>Evaluates on the trainer's evaluation dataset.</summary>
    public EvaluationResult Evaluate(string split = "validation") => Evaluate(split, EvalDataset);

    /// <summary>
    /// Greedy (or beam) generation on every prompt, post-processing, accuracy and confusion matrix. Across several
    /// <paramref name="instances"/> each generates its <see cref="EvaluationShards.Of"/> range and every instance
    /// gets the result of all examples, the same as one process's.
    /// </summary>
    public EvaluationResult Evaluate(string split, IReadOnlyList<Seq2SeqExample> examples, IInstanceGroup? instances = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        instances ??= new OneInstance();
        var accumulator = new EvaluationAccumulator(split, _metric);
        var options = GenerationOptionsFor(_evalConfig);
        using var copy = _launch.IsMultiInstance ? LocalWeightsCopy() : null;
        var pipeline = new Text2TextPipeline(new SessionDecoder((copy ?? Model).Session), _tokenizer, options);
        var shard = EvaluationShards.Of(examples.Count, options.BatchSize, instances.Index, instances.Count);
        var (start, count) = shard.GetOffsetAndLength(examples.Count);
        var prompts = Enumerable.Range(start, count).Select(i => examples[i].Source).ToList();
        var mine = pipeline.Generate(prompts, options).Select(_postprocess).ToList();
        var generated = EvaluationShards.Gather(mine, examples.Count, instances);
        for (int i = 0; i < examples.Count; i++)
        {
            int gold = _metric.IdOf(examples[i].Target);
            accumulator.Add(gold, generated[i]);
        }
        return accumulator.Result();
    }

    /// <summary>Exports the current weights in the Hugging Face hub layout (config, generation config, safetensors,
    /// tokenizer files).</summary>
    public IReadOnlyList<string> SaveHfCheckpoint(string directory, HfExportOptions? options = null)
    {
        options ??= new HfExportOptions();
        if (options.TokenizerSource is null)
            options = options with { TokenizerSource = Path.GetDirectoryName(_tokenizer.ModelPath) };
        return HfCheckpointExporter.Export(Model, directory, options);
    }

    /// <summary>Writes a training checkpoint (weights, AdamW moments, step, schedule, data position, RNG, config).</summary>
    public string SaveTrainingCheckpoint()
    {
        var rng = new byte[sizeof(ulong) * 2];
        BitConverter.TryWriteBytes(rng.AsSpan(0, 8), Model.Session.RngState);
        BitConverter.TryWriteBytes(rng.AsSpan(8, 8), (ulong)_optimizerStep);
        var state = new TrainingState
        {
            Step = _step,
            Config = Model.Config,
            Layout = Model.Layout,
            Weights = Model.Slot(ParameterSlot.Weight),
            AdamFirstMoment = Model.Slot(ParameterSlot.AdamM),
            AdamSecondMoment = Model.Slot(ParameterSlot.AdamV),
            SchedulePosition = _step,
            LossScale = _lossScaler.Scale,
            DataCursor = Encoding.UTF8.GetBytes(_cursor.ToString()),
            RngState = rng,
            Plan = $"tp={_config.Execution.TensorParallel} pp={_config.Execution.PipelineStages} dp={_config.Execution.DataParallel}" +
                   (_launch.IsMultiInstance ? $" instances={_launch.InstanceCount}" : ""),
            RunConfig = RunConfigWriter.ToJson(_config, includeDerived: false),
        };
        return Checkpoints.Save(state);
    }

    /// <summary>Continues from a training checkpoint: weights, AdamW state, step, schedule, data position, RNG.</summary>
    public void Resume(TrainingCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var state = checkpoint.ToState();
        if (state.Config.VocabSize != Model.Config.VocabSize || state.Config.DModel != Model.Config.DModel ||
            state.Layout != Model.Layout)
        {
            throw new InvalidDataException($"{checkpoint.Directory}: the checkpoint's model (vocab {state.Config.VocabSize}, " +
                $"d_model {state.Config.DModel}, {state.Layout}) is not the model being trained (vocab {Model.Config.VocabSize}, " +
                $"d_model {Model.Config.DModel}, {Model.Layout})");
        }
        Model.LoadWeights(state.Weights);
        Model.LoadOptimizerState(state.AdamFirstMoment, state.AdamSecondMoment);
        if (state.RngState.Length != 16)
            throw new InvalidDataException($"{checkpoint.Directory}: RNG state has {state.RngState.Length} bytes; expected 16");
        Model.Session.RngState = BitConverter.ToUInt64(state.RngState, 0);
        _optimizerStep = (long)BitConverter.ToUInt64(state.RngState, 8);
        _step = checked((int)state.Step);
        _cursor = DataCursor.Parse(Encoding.UTF8.GetString(state.DataCursor));
        _lossScaler.Restore(new LossScalerState(state.LossScale, 0));
    }

    public void Dispose() => Model.Dispose();

    /// <summary>Generation settings of an inference section, with the model's special ids. Prompts pad as the run's
    /// sources do (fixed: to the source length; buckets: to their bucket), so that its evaluation decodes on one
    /// program per source bucket; padded to the longest, a batch would compile a program per length, so they take the
    /// power-of-two buckets.</summary>
    public GenerationOptions GenerationOptionsFor(InferenceSection inference) => GenerationOptions.For(Model.Config) with
    {
        MaxNewTokens = inference.MaxNewTokens,
        NumBeams = inference.NumBeams,
        BatchSize = inference.BatchSize,
        PromptPadding = _config.Data.Padding == PaddingMode.Longest
            ? PaddingOptions.PowerOfTwoBuckets(_config.Model.SourceLength)
            : PaddingOptions.Of(_config.Data.Padding, _config.Model.SourceLength),
    };

    /// <summary>
    /// The program shapes of every step of the run, from its first batch (a resumed run meets a tail of them): the
    /// session compiles them all at once before the weights load, so no step compiles. Each micro-batch runs alone,
    /// except through several pipeline stages, where a step's micro-batches run in one program at their longest.
    /// </summary>
    private static IReadOnlyList<ProgramShape> TrainingShapes(DataLoader loader, RunConfig config, InstanceLayout launch)
    {
        int accumulation = config.GradientAccumulation;
        int rows = config.Execution.MicroBatchSize * launch.LocalReplicas;
        var lengths = loader.PaddedLengths(loader.Start, (long)config.Training.Steps * accumulation);
        var shapes = new HashSet<ProgramShape>();
        bool scheduled = config.Execution.PipelineStages > 1 && accumulation > 1;
        for (int first = 0; first < lengths.Count; first += accumulation)
        {
            var step = lengths.Skip(first).Take(accumulation).ToList();
            if (scheduled)
                shapes.Add(ProgramShape.Batch(rows, step.Max(l => l.SourceLength), step.Max(l => l.TargetLength),
                    training: true, microBatches: accumulation));
            else
                foreach (var (source, target) in step) shapes.Add(ProgramShape.Batch(rows, source, target, training: true));
        }
        return [.. shapes.OrderBy(s => s.SourceLength).ThenBy(s => s.TargetLength)];
    }

    /// <summary>A batch as the session takes it: this instance's replicas' rows (all rows in one process).</summary>
    private static TokenBatch ToDevice(Seq2SeqBatch batch) =>
        new(batch.Rows, batch.SourceLength, batch.TargetLength, inputIds: batch.InputIds,
            decoderInputIds: batch.DecoderInputIds, attentionMask: batch.AttentionMask, labels: batch.Labels, training: true);
}
