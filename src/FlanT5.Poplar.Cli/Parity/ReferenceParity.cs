using System.Text.Json.Nodes;
using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Interop;
using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Cli.Parity;

/// <summary>
/// Compares the model on the device with reference data made by Hugging Face (the fixture format): forward logits,
/// loss, encoder states and every gradient; greedy and beam-3 generation; cached against uncached decoding; and a
/// multi-step AdamW trajectory against its float64 replay.
/// </summary>
/// <remarks>
/// The bounds of the forward and backward rows are the <see cref="ParityBounds"/> of the session's precision. The
/// AdamW trajectory amplifies rounding by a factor that depends on the model and on the kernels (flan-t5-tiny's
/// final weights 2.4e-5 … 9.0e-5 from float64, hf-t5-tiny's 6.7e-7 … 2.2e-6), so its bounds are
/// <see cref="TrajectoryFloorMultiple"/> × that reference's own floor: the float32 reference's distance from the
/// float64 replay of the same steps, per measure. The worst ratio to the floor measured was 2.81 (hf-t5-tiny's
/// gradient norm); 8 leaves a margin of 2.8 and still puts a wrong term of 10 % in one layer's gradient 7000 ×
/// past the weights bound.
/// </remarks>
public static class ReferenceParity
{
    public const double TrajectoryFloorMultiple = 8;

    /// <summary>Forward and backward of the reference batch (input_ids, attention_mask, decoder_input_ids, labels).</summary>
    public static IReadOnlyList<ParityRow> ForwardBackward(DeviceModel model, ReferenceTensors reference, ParityBounds bounds)
    {
        var rows = new List<ParityRow>();
        var batch = Batch(reference, "input_ids", "attention_mask", "decoder_input_ids", "labels");
        var session = model.Session;
        session.ZeroGradients();
        float loss = session.ForwardBackward(batch, 1f);
        var logits = new float[(long)batch.BatchSize * batch.TargetLength * session.Model.VocabSize];
        var hidden = new float[(long)batch.BatchSize * batch.SourceLength * session.Model.DModel];
        session.Forward(batch, logits, hidden);

        if (reference.Has("logits_f64"))
            rows.Add(new ParityRow("logits (float64 reference)", ParityRow.RelativeError(logits, reference.Doubles("logits_f64")), bounds.Logits, "rel L2"));
        if (reference.Has("loss_f64"))
        {
            double expected = reference.Doubles("loss_f64")[0];
            rows.Add(new ParityRow("loss (float64 reference)", Math.Abs(loss - expected) / Math.Abs(expected), bounds.Loss, "rel"));
        }
        if (reference.Has("encoder_last_hidden_state_f64"))
        {
            rows.Add(new ParityRow("encoder last hidden state", ParityRow.RelativeError(hidden, reference.Doubles("encoder_last_hidden_state_f64")),
                bounds.Encoder, "rel L2"));
        }
        foreach (var name in reference.Names.Where(n => n.StartsWith("grad.", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var parameter = name["grad.".Length..];
            int index = session.Find(parameter);
            var gradient = new float[session.Parameters[index].ElementCount];
            session.Read(index, ParameterSlot.Gradient, gradient);
            rows.Add(new ParityRow($"grad {parameter}", ParityRow.RelativeError(gradient, reference.Doubles(name)), bounds.Gradient, "rel L2"));
        }
        session.ZeroGradients();
        return rows;
    }

    /// <summary>Greedy and beam-3 ids (gen_input_ids → greedy_ids / beam3_ids), and cached against uncached logits.</summary>
    public static IReadOnlyList<ParityRow> Generation(DeviceModel model, ReferenceTensors reference, ParityBounds bounds)
    {
        var rows = new List<ParityRow>();
        if (!reference.Has("gen_input_ids")) return rows;
        var inputShape = reference.Shape("gen_input_ids");
        var inputs = new EncoderBatch(reference.Ints("gen_input_ids"), reference.Ints("gen_attention_mask"), inputShape[0], inputShape[1]);
        var decoder = new SessionDecoder(model.Session);
        var options = GenerationOptions.For(model.Config);
        foreach (var (key, beams) in new[] { ("greedy_ids", 1), ("beam3_ids", 3) })
        {
            if (!reference.Has(key)) continue;
            var expectedShape = reference.Shape(key);
            var expected = reference.Ints(key);
            var result = (beams == 1 ? GreedySearch.Run(decoder, inputs, options with { MaxNewTokens = 12, BatchSize = inputs.Batch })
                : BeamSearch.Run(decoder, inputs, options with
                {
                    MaxNewTokens = 12,
                    NumBeams = beams,
                    EarlyStopping = BeamEarlyStopping.WhenBeamsFull,
                    LengthPenalty = 1.0,
                    BatchSize = inputs.Batch,
                })).Sequences;
            var actual = Flatten(result, expectedShape[1]);
            int bad = actual is null ? expectedShape[0] : ParityRow.MismatchedRows(actual, expected, expectedShape[1]);
            if (bounds.TiesAllowed && actual is not null && bad > 0)
            {
                int ties = Ties(model, inputs, actual, expected, expectedShape[1], options.EosTokenId, bounds.Logits);
                rows.Add(new ParityRow($"{key} ({expectedShape[0]} rows)", bad - ties, 0, $"not ties ({ties} tie)"));
            }
            else
            {
                rows.Add(new ParityRow($"{key} ({expectedShape[0]} rows)", bad, 0, "rows differing"));
            }
        }
        if (reference.Has("greedy_ids"))
            rows.Add(new ParityRow("cached vs uncached decoding logits", CachedAgainstUncached(model, reference), bounds.CachedDecoding, "rel L2"));
        if (reference.Has("logits_decoder_input_ids") && reference.Has("logits_f64"))
        {
            var decoderShape = reference.Shape("logits_decoder_input_ids");
            int n = decoderShape[0];
            int src = inputShape[1];
            var batch = new TokenBatch(n, src, decoderShape[1], inputIds: reference.Ints("gen_input_ids")[..(n * src)],
                decoderInputIds: reference.Ints("logits_decoder_input_ids"), attentionMask: reference.Ints("gen_attention_mask")[..(n * src)]);
            var logits = new float[(long)n * decoderShape[1] * model.Config.VocabSize];
            model.Session.Forward(batch, logits, []);
            rows.Add(new ParityRow($"teacher-forced logits ({n} rows)", ParityRow.RelativeError(logits, reference.Doubles("logits_f64")), bounds.Logits, "rel L2"));
        }
        return rows;
    }

    /// <summary>
    /// The AdamW trajectory: the reference optimizer's steps on the stored batches (hyperparameters and float32 losses
    /// and gradient norms from the json, final.&lt;param&gt; in <paramref name="batches"/>), each loss, gradient norm
    /// and the final weights compared with the float64 replay in <paramref name="float64"/> (losses, grad_norms,
    /// final.&lt;param&gt;), within <see cref="TrajectoryFloorMultiple"/> × the float32 reference's own distance from
    /// it. Changes the model's weights.
    /// </summary>
    public static IReadOnlyList<ParityRow> Trajectory(DeviceModel model, ReferenceTensors batches, JsonObject settings, ReferenceTensors float64)
    {
        var session = model.Session;
        double[] storedLosses = Numbers(settings, "losses"), storedNorms = Numbers(settings, "grad_norms");
        double[] losses64 = float64.Doubles("losses"), norms64 = float64.Doubles("grad_norms");
        if (losses64.Length != storedLosses.Length || norms64.Length != storedNorms.Length)
            throw new InvalidDataException($"{float64.Path}: {losses64.Length} losses and {norms64.Length} gradient norms; the trajectory has {storedLosses.Length} steps");
        var betas = Numbers(settings, "betas");
        double lr = settings["lr"]!.GetValue<double>();
        double eps = settings["eps"]!.GetValue<double>();
        double weightDecay = settings["weight_decay"]!.GetValue<double>();
        var loss = new Worst();
        var norm = new Worst();
        double lossFloor = 0, normFloor = 0;
        for (int step = 0; step < storedLosses.Length; step++)
        {
            var labelsShape = batches.Shape($"step{step}.labels");
            var labels = batches.Ints($"step{step}.labels");
            var decoderInput = ShiftRight(labels, labelsShape[0], labelsShape[1], model.Config.DecoderStartTokenId, model.Config.PadTokenId);
            var inputShape = batches.Shape($"step{step}.input_ids");
            var batch = new TokenBatch(inputShape[0], inputShape[1], labelsShape[1], inputIds: batches.Ints($"step{step}.input_ids"),
                decoderInputIds: decoderInput, attentionMask: batches.Ints($"step{step}.attention_mask"), labels: labels, training: true);
            session.ZeroGradients();
            float stepLoss = session.ForwardBackward(batch, 1f);
            var result = session.OptimizerStep(new OptimizerStepSettings
            {
                Step = step + 1,
                LearningRate = (float)lr,
                Beta1 = (float)betas[0],
                Beta2 = (float)betas[1],
                Eps = (float)eps,
                WeightDecay = (float)weightDecay,
                DecayAllParameters = true, // torch.optim.AdamW's default parameter group decays everything
                GradScale = 1f,
                MaxGradNorm = 0f,
            });
            loss.Add(Relative(stepLoss, losses64[step]), $"step {step + 1}");
            norm.Add(Relative(result.GradNorm, norms64[step]), $"step {step + 1}");
            lossFloor = Math.Max(lossFloor, Relative(storedLosses[step], losses64[step]));
            normFloor = Math.Max(normFloor, Relative(storedNorms[step], norms64[step]));
        }
        var weights = new Worst();
        double weightsFloor = 0;
        foreach (var name in batches.Names.Where(n => n.StartsWith("final.", StringComparison.Ordinal)))
        {
            var expected = float64.Doubles(name);
            weightsFloor = Math.Max(weightsFloor, ParityRow.RelativeError(batches.Doubles(name), expected));
            var parameter = name["final.".Length..];
            if (!session.Parameters.Any(p => p.Name == parameter)) continue; // e.g. an unused shared.weight
            int index = session.Find(parameter);
            var actual = new float[session.Parameters[index].ElementCount];
            session.Read(index, ParameterSlot.Weight, actual);
            weights.Add(ParityRow.RelativeError(actual, expected), parameter);
        }
        int steps = storedLosses.Length;
        return
        [
            new ParityRow($"trajectory losses ({steps} steps; worst {loss.Where})", loss.Error, TrajectoryFloorMultiple * lossFloor, "rel vs f64"),
            new ParityRow($"trajectory gradient norms (worst {norm.Where})", norm.Error, TrajectoryFloorMultiple * normFloor, "rel vs f64"),
            new ParityRow($"trajectory final weights (worst {weights.Where})", weights.Error, TrajectoryFloorMultiple * weightsFloor, "rel L2 vs f64"),
        ];
    }

    /// <summary>The float64 replay of a trajectory reference: FILE_f64.safetensors beside FILE.safetensors.</summary>
    public static string Float64TwinPath(string trajectoryStem) => trajectoryStem + "_f64.safetensors";

    private sealed class Worst
    {
        public double Error { get; private set; }
        public string Where { get; private set; } = "";

        public void Add(double error, string where)
        {
            if (error < Error) return; // NaN replaces and stays
            Error = error;
            Where = where;
        }
    }

    private static double Relative(double actual, double expected) => Math.Abs(actual - expected) / Math.Abs(expected);

    private static double[] Numbers(JsonObject settings, string key) =>
        (settings[key] as JsonArray ?? throw new InvalidDataException($"the trajectory json has no '{key}' array"))
        .Select(v => v!.GetValue<double>()).ToArray();

    /// <summary>Hugging Face's shift_right: start token, then the labels without their last column, -100 → pad.</summary>
    public static int[] ShiftRight(ReadOnlySpan<int> labels, int rows, int length, int startId, int padId)
    {
        var shifted = new int[rows * length];
        for (int r = 0; r < rows; r++)
        {
            shifted[r * length] = startId;
            for (int t = 1; t < length; t++)
            {
                int v = labels[r * length + t - 1];
                shifted[r * length + t] = v == -100 ? padId : v;
            }
        }
        return shifted;
    }

    private static double CachedAgainstUncached(DeviceModel model, ReferenceTensors reference)
    {
        var inputShape = reference.Shape("gen_input_ids");
        var idsShape = reference.Shape("greedy_ids");
        int rows = inputShape[0], src = inputShape[1], steps = idsShape[1] - 1, vocab = model.Config.VocabSize;
        var input = reference.Ints("gen_input_ids");
        var mask = reference.Ints("gen_attention_mask");
        var ids = reference.Ints("greedy_ids");
        var decoderInput = new int[rows * steps];
        for (int r = 0; r < rows; r++) Array.Copy(ids, r * idsShape[1], decoderInput, r * steps, steps);
        var uncached = new float[(long)rows * steps * vocab];
        model.Session.Forward(new TokenBatch(rows, src, steps, inputIds: input, decoderInputIds: decoderInput, attentionMask: mask), uncached, []);
        var cached = new float[uncached.Length];
        var stepLogits = new float[rows * vocab];
        var tokens = new int[rows];
        model.Session.DecodeBegin(input, mask, rows, src, steps);
        try
        {
            for (int t = 0; t < steps; t++)
            {
                for (int r = 0; r < rows; r++) tokens[r] = decoderInput[r * steps + t];
                model.Session.DecodeStep(tokens, stepLogits);
                for (int r = 0; r < rows; r++)
                    stepLogits.AsSpan(r * vocab, vocab).CopyTo(cached.AsSpan((r * steps + t) * vocab, vocab));
            }
        }
        finally
        {
            model.Session.DecodeEnd();
        }
        return ParityRow.RelativeError(cached, uncached.Select(v => (double)v).ToArray());
    }

    private static TokenBatch Batch(ReferenceTensors reference, string input, string mask, string decoderInput, string labels)
    {
        var inputShape = reference.Shape(input);
        var targetShape = reference.Shape(decoderInput);
        return new TokenBatch(inputShape[0], inputShape[1], targetShape[1], inputIds: reference.Ints(input),
            decoderInputIds: reference.Ints(decoderInput), attentionMask: reference.Ints(mask),
            labels: reference.Has(labels) ? reference.Ints(labels) : default);
    }

    /// <summary>
    /// How many of the rows where <paramref name="actual"/> differs from <paramref name="expected"/> are ties: the
    /// session scores its own sequence no worse than the reference's, within a relative <paramref name="tolerance"/>
    /// (each a row of decoder start, tokens, EOS, then padding; scored as the mean log-probability of its tokens up to
    /// the first EOS, beam search's score with length penalty 1). A search that took another branch at a near tie can
    /// end on a sequence it scores higher; one it scores lower is a numerical failure.
    /// </summary>
    private static int Ties(DeviceModel model, EncoderBatch inputs, int[] actual, int[] expected, int length, int eos,
        double tolerance)
    {
        var differing = Enumerable.Range(0, actual.Length / length)
            .Where(r => !actual.AsSpan(r * length, length).SequenceEqual(expected.AsSpan(r * length, length))).ToList();
        int n = differing.Count * 2, src = inputs.SrcLen, steps = length - 1, vocab = model.Config.VocabSize;
        var ids = new int[n * src];
        var mask = new int[n * src];
        var decoder = new int[n * steps];
        for (int i = 0; i < n; i++)
        {
            int row = differing[i / 2];
            var sequence = (i % 2 == 0 ? actual : expected).AsSpan(row * length, length);
            inputs.InputIds.AsSpan(row * src, src).CopyTo(ids.AsSpan(i * src, src));
            inputs.AttentionMask.AsSpan(row * src, src).CopyTo(mask.AsSpan(i * src, src));
            sequence[..steps].CopyTo(decoder.AsSpan(i * steps, steps));
        }
        var logits = new float[(long)n * steps * vocab];
        model.Session.Forward(new TokenBatch(n, src, steps, inputIds: ids, decoderInputIds: decoder, attentionMask: mask), logits, []);
        int ties = 0;
        for (int k = 0; k < differing.Count; k++)
        {
            int row = differing[k];
            double ours = Score(logits, 2 * k, actual.AsSpan(row * length, length), steps, vocab, eos);
            double theirs = Score(logits, 2 * k + 1, expected.AsSpan(row * length, length), steps, vocab, eos);
            if (ours >= theirs - tolerance * Math.Max(Math.Abs(ours), Math.Abs(theirs))) ties++;
        }
        return ties;
    }

    // The mean over t of log softmax(logits of row at t)[sequence[t + 1]], up to and including the first EOS.
    private static double Score(float[] logits, int row, ReadOnlySpan<int> sequence, int steps, int vocab, int eos)
    {
        double score = 0;
        int t = 0;
        for (; t < steps; t++)
        {
            var l = logits.AsSpan((row * steps + t) * vocab, vocab);
            float max = float.NegativeInfinity;
            foreach (var v in l) max = Math.Max(max, v);
            double sum = 0;
            foreach (var v in l) sum += Math.Exp(v - max);
            score += l[sequence[t + 1]] - max - Math.Log(sum);
            if (sequence[t + 1] == eos)
            {
                t++;
                break;
            }
        }
        return score / Math.Max(1, t);
    }

    private static int[]? Flatten(IReadOnlyList<int[]> sequences, int length)
    {
        if (sequences.Any(s => s.Length != length)) return null;
        return sequences.SelectMany(s => s).ToArray();
    }
}
