using System.Runtime.InteropServices;
using System.Text;

namespace FlanT5.Poplar.Interop;

/// <summary>
/// A T5 model placed on a device: parameters under their Hugging Face names and shapes, gradients, AdamW state,
/// forward/backward passes and incremental decoding. Used by one thread at a time. Keeps its device alive.
/// </summary>
public sealed unsafe class T5Session : IDisposable
{
    private readonly SessionHandle _handle;
    private volatile bool _disposed;

    private T5Session(SessionHandle handle, ModelDescription model, IReadOnlyList<ParameterInfo> parameters)
    {
        _handle = handle;
        Model = model;
        Parameters = parameters;
    }

    public ModelDescription Model { get; }

    /// <summary>Every parameter in the session's order (the index used by Read/Write).</summary>
    public IReadOnlyList<ParameterInfo> Parameters { get; }

    /// <summary>Builds the model on the device; parameters are zero until written. Plan null = one IPU.</summary>
    public static T5Session Create(IpuDevice device, ModelDescription model, PlanDescription? plan = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(model);
        plan ??= new PlanDescription();
        device.ThrowIfDisposed();
        var modelDesc = model.ToNative();
        var planDesc = plan.ToNative();
        var encoderStages = plan.StageArray(plan.EncoderLayersPerStage, nameof(plan.EncoderLayersPerStage));
        var decoderStages = plan.StageArray(plan.DecoderLayersPerStage, nameof(plan.DecoderLayersPerStage));
        SessionHandle handle;
        fixed (uint* encoder = encoderStages)
        fixed (uint* decoder = decoderStages)
        {
            planDesc.encoder_layers_per_stage = encoder;
            planDesc.decoder_layers_per_stage = decoder;
            handle = SessionHandle.Create(device.Handle, modelDesc, planDesc);
        }
        try
        {
            return new T5Session(handle, model, ReadParameters(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Index of the parameter with this Hugging Face name; Ft5InvalidArgumentException naming it when absent.</summary>
    public int Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var utf8 = Encoding.UTF8.GetBytes(name + "\0");
        uint index;
        using var session = Acquire();
        fixed (byte* n = utf8) Ft5Native.Checked.ft5_session_param_find(session.Pointer, n, &index);
        return (int)index;
    }

    /// <summary>Writes the whole logical parameter (HF shape, row-major) on every replica.</summary>
    public void Write(int index, ParameterSlot slot, ReadOnlySpan<float> data)
    {
        using var session = Acquire();
        fixed (float* p = data)
        {
            Ft5Native.Checked.ft5_session_param_write(session.Pointer, Index(index), (ft5_param_slot)slot, p,
                (nuint)data.Length);
        }
    }

    public void Write(string name, ParameterSlot slot, ReadOnlySpan<float> data) => Write(Find(name), slot, data);

    /// <summary>Reads the whole logical parameter (replica 0).</summary>
    public void Read(int index, ParameterSlot slot, Span<float> data)
    {
        using var session = Acquire();
        fixed (float* p = data)
        {
            Ft5Native.Checked.ft5_session_param_read(session.Pointer, Index(index), (ft5_param_slot)slot, p,
                (nuint)data.Length);
        }
    }

    public void Read(string name, ParameterSlot slot, Span<float> data) => Read(Find(name), slot, data);

    /// <summary>Writes one tensor-parallel shard, in its padded shard shape, on every replica.</summary>
    public void WriteShard(int index, int shard, ParameterSlot slot, ReadOnlySpan<float> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        using var session = Acquire();
        fixed (float* p = data)
        {
            Ft5Native.Checked.ft5_session_param_write_shard(session.Pointer, Index(index), (uint)shard,
                (ft5_param_slot)slot, p, (nuint)data.Length);
        }
    }

    public void ReadShard(int index, int shard, ParameterSlot slot, Span<float> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        using var session = Acquire();
        fixed (float* p = data)
        {
            Ft5Native.Checked.ft5_session_param_read_shard(session.Pointer, Index(index), (uint)shard,
                (ft5_param_slot)slot, p, (nuint)data.Length);
        }
    }

    /// <summary>
    /// Forward pass. logits [batch, tgt_len, vocab] and encoderHidden [batch, src_len, d_model] are filled when not
    /// empty. Returns the mean cross-entropy over labels != -100, or null when the batch has no labels.
    /// </summary>
    public float? Forward(TokenBatch batch, Span<float> logits, Span<float> encoderHidden)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var loss = 0f;
        using var session = Acquire();
        fixed (int* input = batch.InputIds.Span)
        fixed (int* mask = batch.AttentionMask.Span)
        fixed (int* decoderInput = batch.DecoderInputIds.Span)
        fixed (int* labels = batch.Labels.Span)
        fixed (int* decoderMask = batch.DecoderAttentionMask.Span)
        fixed (float* l = logits)
        fixed (float* h = encoderHidden)
        {
            var b = ToNative(batch, input, mask, decoderInput, labels, decoderMask);
            Ft5Native.Checked.ft5_session_forward(session.Pointer, &b, l, (nuint)logits.Length, h,
                (nuint)encoderHidden.Length, batch.HasLabels ? &loss : null);
        }
        return batch.HasLabels ? loss : null;
    }

    public float? Forward(TokenBatch batch) => Forward(batch, [], []);

    /// <summary>Forward and backward; adds the gradient of (loss x lossWeight) to the accumulated gradients.</summary>
    public float ForwardBackward(TokenBatch batch, float lossWeight)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!batch.HasLabels) throw new ArgumentException("ForwardBackward needs a batch with Labels", nameof(batch));
        var loss = 0f;
        using var session = Acquire();
        fixed (int* input = batch.InputIds.Span)
        fixed (int* mask = batch.AttentionMask.Span)
        fixed (int* decoderInput = batch.DecoderInputIds.Span)
        fixed (int* labels = batch.Labels.Span)
        fixed (int* decoderMask = batch.DecoderAttentionMask.Span)
        {
            var b = ToNative(batch, input, mask, decoderInput, labels, decoderMask);
            Ft5Native.Checked.ft5_session_forward_backward(session.Pointer, &b, lossWeight, &loss);
        }
        return loss;
    }

    /// <summary>
    /// Forward and backward of a whole step's micro-batches (gradient accumulation) through the plan's pipeline
    /// schedule: GPipe or 1F1B when the plan has several stages and its weights on chip, one after another otherwise.
    /// Adds the gradient of the sum of (loss x lossWeight) in micro-batch order, so the schedule does not change it.
    /// Returns each micro-batch's mean loss.
    /// </summary>
    public float[] ForwardBackward(IReadOnlyList<TokenBatch> microBatches, float lossWeight)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        if (microBatches.Count == 0) throw new ArgumentException("ForwardBackward needs at least one micro-batch", nameof(microBatches));
        var pins = new List<System.Buffers.MemoryHandle>(microBatches.Count * 5);
        int* Pin(ReadOnlyMemory<int> memory)
        {
            if (memory.IsEmpty) return null;
            var handle = memory.Pin();
            pins.Add(handle);
            return (int*)handle.Pointer;
        }
        var natives = new ft5_batch[microBatches.Count];
        var pointers = new nint[microBatches.Count];
        var losses = new float[microBatches.Count];
        try
        {
            for (int i = 0; i < microBatches.Count; i++)
            {
                var batch = microBatches[i] ?? throw new ArgumentException($"microBatches[{i}] is null", nameof(microBatches));
                if (!batch.HasLabels) throw new ArgumentException($"microBatches[{i}] has no Labels; ForwardBackward needs them", nameof(microBatches));
                natives[i] = ToNative(batch, Pin(batch.InputIds), Pin(batch.AttentionMask), Pin(batch.DecoderInputIds),
                    Pin(batch.Labels), Pin(batch.DecoderAttentionMask));
            }
            using var session = Acquire();
            fixed (ft5_batch* first = natives)
            fixed (nint* table = pointers)
            fixed (float* l = losses)
            {
                for (int i = 0; i < natives.Length; i++) table[i] = (nint)(first + i);
                Ft5Native.Checked.ft5_session_forward_backward_micro_batches(session.Pointer, (ft5_batch**)table,
                    (uint)natives.Length, lossWeight, l, (nuint)losses.Length);
            }
        }
        finally
        {
            foreach (var pin in pins) pin.Dispose();
        }
        return losses;
    }

    public void ZeroGradients()
    {
        using var session = Acquire();
        Ft5Native.Checked.ft5_session_zero_gradients(session.Pointer);
    }

    /// <summary>Clips, applies AdamW to every parameter; gradients are left as they were.</summary>
    public StepResult OptimizerStep(OptimizerStepSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var step = settings.ToNative();
        ft5_step_result result = default;
        result.struct_size = (uint)sizeof(ft5_step_result);
        using var session = Acquire();
        Ft5Native.Checked.ft5_session_optimizer_step(session.Pointer, &step, &result);
        return new StepResult(result.grad_norm, result.skipped_nonfinite != 0);
    }

    /// <summary>
    /// Compiles the engine once with a program set for each shape it does not hold yet, so that calls of those shapes
    /// compile nothing. Called before the weights are written, the model's state never goes through the host.
    /// </summary>
    public void Prepare(IReadOnlyList<ProgramShape> shapes)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        var native = new ft5_program_shape[shapes.Count];
        for (var i = 0; i < shapes.Count; i++)
        {
            var s = shapes[i] ?? throw new ArgumentException($"shapes[{i}] is null", nameof(shapes));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.BatchSize, $"shapes[{i}].BatchSize");
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.SourceLength, $"shapes[{i}].SourceLength");
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.TargetLength, $"shapes[{i}].TargetLength");
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.MicroBatches, $"shapes[{i}].MicroBatches");
            fixed (ft5_program_shape* n = &native[i]) Ft5Native.ft5_program_shape_init(n);
            native[i].kind = (uint)s.Kind;
            native[i].batch = (uint)s.BatchSize;
            native[i].src_len = (uint)s.SourceLength;
            native[i].tgt_len = (uint)s.TargetLength;
            native[i].micro_batches = (uint)s.MicroBatches;
            native[i].training = s.Training ? 1 : 0;
        }
        using var session = Acquire();
        fixed (ft5_program_shape* p = native) Ft5Native.Checked.ft5_session_prepare(session.Pointer, p, (nuint)native.Length);
    }

    /// <summary>
    /// Program sets the session's one engine holds: one per batch shape bucket run so far, all sharing the weights.
    /// </summary>
    public int ProgramsBuilt => Count(&Ft5Native.Checked.ft5_session_programs_built);

    /// <summary>
    /// Times the engine was compiled: once at creation and again, with every program set so far, for each new shape
    /// bucket (a graph compilation each on hardware).
    /// </summary>
    public int EngineCompilations => Count(&Ft5Native.Checked.ft5_session_engine_compilations);

    /// <summary>
    /// With the plan's ActivationRanges: each module's largest |activation| in the last forward pass (over
    /// every row as it ran and every replica), in fp32 ("encoder.block.1.layer.1.DenseReluDense.wo": that projection's
    /// output; "encoder.block.1.layer.1": the residual stream after the layer); empty before a forward.
    /// </summary>
    public IReadOnlyList<ActivationRange> ActivationRanges()
    {
        using var session = Acquire();
        uint count;
        Ft5Native.Checked.ft5_session_activation_ranges(session.Pointer, null, 0, &count);
        var values = new float[count];
        fixed (float* v = values) Ft5Native.Checked.ft5_session_activation_ranges(session.Pointer, v, count, &count);
        var ranges = new List<ActivationRange>((int)count);
        for (uint i = 0; i < count; i++)
        {
            byte* name;
            Ft5Native.Checked.ft5_session_activation_site(session.Pointer, i, &name);
            ranges.Add(new ActivationRange(Marshal.PtrToStringUTF8((nint)name) ?? "", values[i]));
        }
        return ranges;
    }

    private int Count(delegate*<ft5_session*, uint*, void> query)
    {
        uint count;
        using var session = Acquire();
        query(session.Pointer, &count);
        return (int)count;
    }

    /// <summary>State of the dropout random stream, for training checkpoints.</summary>
    public ulong RngState
    {
        get
        {
            ulong state;
            using var session = Acquire();
            Ft5Native.Checked.ft5_session_get_rng_state(session.Pointer, &state);
            return state;
        }
        set
        {
            using var session = Acquire();
            Ft5Native.Checked.ft5_session_set_rng_state(session.Pointer, value);
        }
    }

    /// <summary>
    /// Runs the encoder on inputIds [batchSize, sourceLength] and starts a decode with room for maxSteps tokens.
    /// attentionMask empty = all ones. Replaces any decode in progress.
    /// </summary>
    public void DecodeBegin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batchSize, int sourceLength,
        int maxSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceLength);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSteps);
        var expected = (long)batchSize * sourceLength;
        if (inputIds.Length != expected)
        {
            throw new ArgumentException(
                $"inputIds has {inputIds.Length} elements; expected {batchSize} x {sourceLength} = {expected}", nameof(inputIds));
        }
        if (!attentionMask.IsEmpty && attentionMask.Length != expected)
        {
            throw new ArgumentException(
                $"attentionMask has {attentionMask.Length} elements; expected {batchSize} x {sourceLength} = {expected} (or none)",
                nameof(attentionMask));
        }
        using var session = Acquire();
        fixed (int* input = inputIds)
        fixed (int* mask = attentionMask)
        {
            Ft5Native.Checked.ft5_session_decode_begin(session.Pointer, input, mask, (uint)batchSize,
                (uint)sourceLength, (uint)maxSteps);
        }
        _decodeRows = batchSize;
    }

    // Rows of the decode in progress: the native call takes the tokens without a count, so the count is checked here.
    private int _decodeRows;

    /// <summary>Feeds one token per row and writes the next-token logits [rows, vocab].</summary>
    public void DecodeStep(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (tokens.Length != _decodeRows)
        {
            throw new ArgumentException(
                $"tokens has {tokens.Length} elements; the decode in progress has {_decodeRows} row(s)", nameof(tokens));
        }
        using var session = Acquire();
        fixed (int* t = tokens)
        fixed (float* l = logits)
        {
            Ft5Native.Checked.ft5_session_decode_step_v2(session.Pointer, t, (nuint)tokens.Length, l, (nuint)logits.Length);
        }
    }

    /// <summary>New row i = old row rows[i] (beam search); rows.Length is the new number of rows.</summary>
    public void DecodeReorder(ReadOnlySpan<int> rows)
    {
        using var session = Acquire();
        fixed (int* r = rows) Ft5Native.Checked.ft5_session_decode_reorder(session.Pointer, r, (uint)rows.Length);
        _decodeRows = rows.Length;
    }

    public void DecodeEnd()
    {
        using var session = Acquire();
        Ft5Native.Checked.ft5_session_decode_end(session.Pointer);
        _decodeRows = 0;
    }

    public void Dispose()
    {
        _disposed = true;
        _handle.Dispose();
    }

    private static ft5_batch ToNative(TokenBatch batch, int* input, int* mask, int* decoderInput, int* labels,
        int* decoderMask)
    {
        ft5_batch b;
        Ft5Native.ft5_batch_init(&b);
        b.batch = (uint)batch.BatchSize;
        b.src_len = (uint)batch.SourceLength;
        b.tgt_len = (uint)batch.TargetLength;
        b.input_ids = input;
        b.attention_mask = mask;
        b.decoder_input_ids = decoderInput;
        b.labels = labels;
        b.decoder_attention_mask = decoderMask;
        b.training = batch.Training ? 1 : 0;
        return b;
    }

    private static List<ParameterInfo> ReadParameters(SessionHandle handle)
    {
        using var session = handle.Acquire();
        uint count;
        Ft5Native.Checked.ft5_session_param_count(session.Pointer, &count);
        var parameters = new List<ParameterInfo>((int)count);
        for (uint i = 0; i < count; i++)
        {
            ft5_param_info info = default;
            info.struct_size = (uint)sizeof(ft5_param_info);
            Ft5Native.Checked.ft5_session_param_info(session.Pointer, i, &info);
            if (info.rank > Ft5Native.FT5_MAX_RANK)
            {
                throw new InvalidOperationException($"ft5_session_param_info({i}) reported rank {info.rank} > FT5_MAX_RANK");
            }
            var shape = new long[info.rank];
            for (var d = 0; d < shape.Length; d++) shape[d] = info.shape[d];
            parameters.Add(new ParameterInfo((int)i, Marshal.PtrToStringUTF8((nint)info.name) ?? "", shape,
                (int)info.shard_count, info.shard_dim, info.padded_dim, info.no_weight_decay != 0));
        }
        return parameters;
    }

    private uint Index(int index)
    {
        if ((uint)index >= (uint)Parameters.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index,
                $"parameter index {index} is outside [0, {Parameters.Count})");
        }
        return (uint)index;
    }

    internal Ft5Handle<ft5_session>.Lease Acquire()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _handle.Acquire();
    }
}
