namespace FlanT5.Poplar.Configuration;

/// <summary>
/// The number formats a run config asks for: model.precision (fp32, or fp16 as Flan-T5 ran on IPUs: fp16 weights and
/// activations with fp32 matmul partials, RMS-norm statistics, loss, gradient accumulators and AdamW moments),
/// training.stochastic_rounding and training.master_weights, which round the fp16 weights' update (stochastically, or
/// from an fp32 master copy) and so need fp16.
/// </summary>
public static class HalfPrecision
{
    /// <summary>The settings of <paramref name="config"/> that cannot run together (empty when they can).</summary>
    public static IReadOnlyList<ConfigProblem> RefusedForRunning(RunConfig config)
    {
        var problems = new List<ConfigProblem>();
        if (config.Training.StochasticRounding && config.Model.Precision != Precision.Fp16)
        {
            problems.Add(new ConfigProblem("training.stochastic_rounding",
                "is true with model.precision fp32: stochastic rounding rounds the weights into fp16; set " +
                "model.precision: fp16 (or --precision fp16), or training.stochastic_rounding: false"));
        }
        if (config.Training.MasterWeights && config.Model.Precision != Precision.Fp16)
        {
            problems.Add(new ConfigProblem("training.master_weights",
                "is true with model.precision fp32: the master copy is of fp16 weights; set model.precision: fp16 (or " +
                "--precision fp16), or training.master_weights: false"));
        }
        if (config.Training.MasterWeights && config.Training.StochasticRounding)
        {
            problems.Add(new ConfigProblem("training.master_weights",
                "and training.stochastic_rounding are both true: the master copy keeps the update in fp32 and rounds to " +
                "nearest, stochastic rounding rounds it into fp16 weights that have none; choose one"));
        }
        return problems;
    }

    /// <summary>A --precision option's value (fp16/float16/half or fp32/float32/float, as everywhere);
    /// <paramref name="what"/> names the option in errors.</summary>
    public static Precision Parse(string text, string what) =>
        Placement.NumericPrecisionExtensions.Parse(text, what) == Placement.NumericPrecision.Fp16 ? Precision.Fp16 : Precision.Fp32;

    /// <summary>A short description of the number formats, for the run's banner and config validate.</summary>
    public static string Describe(RunConfig config) =>
        config.Model.Precision == Precision.Fp16
            ? "fp16 (weights " + (config.Training.MasterWeights ? "rounded from an fp32 master copy"
                  : config.Training.StochasticRounding ? "rounded stochastically" : "rounded to nearest") +
              ", AdamW moments fp32" +
              (config.Model.Fp16.Flags == Interop.HalfMitigations.None
                  ? ")"
                  : $"; evaluation and generation with {config.Model.Fp16.Describe()})")
            : "fp32";
}
