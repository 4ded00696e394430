using System.Diagnostics;
using System.Globalization;
using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Benchmarks;

/// <summary>
/// What <c>torch_t5.py bench</c> measures, on the IPU emulator through the ABI: a randomly initialised T5 (HF init
/// scales, seeded), the median of one training step (zero gradients, forward + backward, AdamW with lr 1e-4 and weight
/// decay 0.01 on every parameter as torch's default group), of KV-cached greedy generation of tgt-len tokens that never
/// stops at EOS, and of the encoder alone (derived: see Run); then the process's peak resident set.
/// </summary>
public static class T5Benchmark
{
    public static T5BenchmarkResult Run(T5BenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var config = options.ModelConfig();
        var inputs = BenchmarkInputs.Create(config, options);
        double trainMs, generateMs, encodeMs;
        long parameters;
        using (var device = OpenDevice(options.Threads))
        using (var session = T5Session.Create(device, Describe(config, config.NumDecoderLayers, options.Dropout)))
        {
            // Both shapes in one compilation before the weights: the model's state never goes through the host.
            session.Prepare([TrainingShape(inputs), DecodeShape(inputs)]);
            parameters = InitialiseWeights(session, config, seed: 0);
            ReleaseGarbage();
            long step = 0;
            trainMs = Timed(options, () => TrainStep(session, inputs, ++step));
            var decoder = new SessionDecoder(session);
            var tokens = new int[options.Batch];
            var logits = new float[options.Batch * config.VocabSize];
            (generateMs, encodeMs) = GenerateAndEncoderAlone(session, config, inputs, options,
                () => Generate(decoder, inputs, config, tokens, logits));
        }
        return new T5BenchmarkResult(options, parameters, config.VocabSize, Environment.ProcessorCount, options.Threads,
            trainMs, generateMs, encodeMs, PeakResidentMib());
    }

    /// <summary>
    /// The ABI has no encoder-only call: decode_begin runs the encoder, then projects its output into each of the L
    /// decoder layers' cross-attention keys and values (torch does that in its first decode step, so its "encoder
    /// alone" leaves it out). So decode_begin is timed on this model (encoder + L projections) and on the same encoder
    /// with one decoder layer (encoder + 1 projection), and the encoder alone = one − (full − one) / (L − 1). The one-layer
    /// model has a small vocabulary (token ids taken modulo it) to stay small in memory: an embedding lookup costs the
    /// same either way. Generation and the two decode_begin timings alternate, so that varying load on a shared host
    /// hits generate and encode alike (torch times all of one, then all of the other); medians over the timed steps.
    /// </summary>
    private static (double GenerateMs, double EncodeMs) GenerateAndEncoderAlone(T5Session session, T5ModelConfig config,
        BenchmarkInputs inputs, T5BenchmarkOptions options, Action generate)
    {
        int layers = config.NumDecoderLayers;
        var small = config with { VocabSize = Math.Min(config.VocabSize, 512) };
        var smallIds = inputs.InputIds.Select(id => id % small.VocabSize).ToArray();
        using var device = OpenDevice(options.Threads);
        // it only decodes: its weights, without gradients and moments
        using var oneLayer = T5Session.Create(device, Describe(small, decoderLayers: 1, options.Dropout),
            new PlanDescription { WeightsOnly = true });
        oneLayer.Prepare([DecodeShape(inputs)]);
        InitialiseWeights(oneLayer, small, seed: 0);
        ReleaseGarbage();
        double EncoderAlone()
        {
            double full = Time(() => DecodeBegin(session, inputs.InputIds, inputs));
            if (layers == 1) return full;
            double one = Time(() => DecodeBegin(oneLayer, smallIds, inputs));
            return one - (full - one) / (layers - 1);
        }
        for (int i = 0; i < options.Warmup; i++)
        {
            generate();
            EncoderAlone();
        }
        var generateTimes = new double[options.Steps];
        var encodeTimes = new double[options.Steps];
        for (int i = 0; i < options.Steps; i++)
        {
            generateTimes[i] = Time(generate);
            encodeTimes[i] = EncoderAlone();
        }
        return (Median(generateTimes), Median(encodeTimes));
    }

    private static ProgramShape TrainingShape(BenchmarkInputs inputs) =>
        ProgramShape.Batch(inputs.Training.BatchSize, inputs.SourceLength, inputs.TargetLength, inputs.Training.Training);

    private static ProgramShape DecodeShape(BenchmarkInputs inputs) =>
        ProgramShape.Decode(inputs.Training.BatchSize, inputs.SourceLength, inputs.TargetLength);

    // With generation's decode shape (its target length), so both run the same compiled program.
    private static void DecodeBegin(T5Session session, int[] inputIds, BenchmarkInputs inputs)
    {
        session.DecodeBegin(inputIds, inputs.AttentionMask, inputs.Training.BatchSize, inputs.SourceLength, inputs.TargetLength);
        session.DecodeEnd();
    }

    private static void TrainStep(T5Session session, BenchmarkInputs inputs, long step)
    {
        session.ZeroGradients();
        float loss = session.ForwardBackward(inputs.Training, 1f);
        var result = session.OptimizerStep(new OptimizerStepSettings
        {
            Step = step,
            LearningRate = 1e-4f,
            WeightDecay = 0.01f,
            DecayAllParameters = true,
        });
        if (!float.IsFinite(loss) || result.SkippedNonFinite)
            throw new InvalidOperationException($"training step {step}: loss {loss}, gradient norm {result.GradNorm}: not finite");
    }

    /// <summary>torch_t5.py's greedy_generate(stop_at_eos=False): tgt-len argmax steps over the KV cache.</summary>
    private static void Generate(IIncrementalDecoder decoder, BenchmarkInputs inputs, T5ModelConfig config, int[] tokens, float[] logits)
    {
        int batch = tokens.Length, vocab = config.VocabSize, steps = inputs.TargetLength;
        decoder.Begin(inputs.InputIds, inputs.AttentionMask, batch, inputs.SourceLength, steps);
        try
        {
            Array.Fill(tokens, config.DecoderStartTokenId);
            for (int t = 0; t < steps; t++)
            {
                decoder.Step(tokens, logits);
                for (int r = 0; r < batch; r++)
                {
                    var scores = logits.AsSpan(r * vocab, vocab);
                    ScoreMath.ThrowIfNaN(scores, r, t, "next-token logits");
                    tokens[r] = ScoreMath.ArgMax(scores);
                }
            }
        }
        finally
        {
            decoder.End();
        }
    }

    /// <summary>torch_t5.py's timed(): warmup calls, then the median of the timed ones (the upper one for an even count).</summary>
    private static double Timed(T5BenchmarkOptions options, Action action)
    {
        for (int i = 0; i < options.Warmup; i++) action();
        var times = new double[options.Steps];
        for (int i = 0; i < times.Length; i++) times[i] = Time(action);
        return Median(times);
    }

    private static double Median(double[] times)
    {
        Array.Sort(times);
        return times[times.Length / 2];
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    // A 64 GiB emulated IPU: the benchmark measures time, not whether the model fits one Mk2's tile memory.
    private static IpuDevice OpenDevice(int threads)
    {
        var defaults = new IpuDeviceOptions();
        return IpuDevice.Open(defaults with { NumThreads = threads, BytesPerTile = (64L << 30) / defaults.TilesPerIpu });
    }

    // The benchmark's geometry is torch_t5.py's: gated-gelu, untied, one shared embedding, whatever the preset says.
    private static ModelDescription Describe(T5ModelConfig config, int decoderLayers, double dropout) =>
        Training.DeviceModel.Describe(config, Checkpoints.EmbeddingLayout.Shared, dropout, seed: 0) with
        {
            NumDecoderLayers = decoderLayers,
            FeedForward = Interop.FeedForwardKind.GatedGelu,
            TieWordEmbeddings = false,
        };

    /// <summary>Normal weights with the HF T5 init scales (factor 1.0), as torch_t5.py's init_weights; norms = 1.
    /// Returns the parameter count.</summary>
    private static long InitialiseWeights(T5Session session, T5ModelConfig config, int seed)
    {
        var random = new Random(seed);
        double d = config.DModel;
        long total = 0;
        // one buffer for every tensor: arrays of each size would be large-object garbage in the peak resident set
        var buffer = new float[checked((int)session.Parameters.Max(p => p.ElementCount))];
        foreach (var p in session.Parameters)
        {
            int count = checked((int)p.ElementCount);
            total += count;
            var values = buffer.AsSpan(0, count);
            var leaf = p.Name.Split('.')[^2];
            if (p.Name.EndsWith("layer_norm.weight", StringComparison.Ordinal))
            {
                values.Fill(1f);
            }
            else
            {
                double std = leaf switch
                {
                    "q" => 1 / Math.Sqrt(d * config.DKv),
                    "o" => 1 / Math.Sqrt(config.InnerDim),
                    "wo" => 1 / Math.Sqrt(config.DFf),
                    "shared" or "embed_tokens" or "lm_head" => 1.0,
                    _ => 1 / Math.Sqrt(d),
                };
                FillNormal(values, std, random);
            }
            session.Write(p.Index, ParameterSlot.Weight, values);
        }
        return total;
    }

    /// <summary>The initialisation's buffer (as large as the largest parameter: 63 MiB for flan-t5-small) is garbage
    /// once the weights are on the device: collected before the timed steps, so the peak resident set is the runtime's
    /// and not this harness's, as torch_t5.py's initialisation leaves nothing behind either.</summary>
    private static void ReleaseGarbage()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private static void FillNormal(Span<float> values, double std, Random random)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            // Box–Muller: two independent normals per pair of uniforms; 1 - u avoids log(0).
            double radius = std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
            double angle = 2 * Math.PI * random.NextDouble();
            values[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < values.Length) values[i + 1] = (float)(radius * Math.Sin(angle));
        }
    }

    /// <summary>The process's peak resident set in MiB: VmHWM on Linux, the high-water mark torch_t5.py reads as
    /// ru_maxrss.</summary>
    private static double PeakResidentMib()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}
