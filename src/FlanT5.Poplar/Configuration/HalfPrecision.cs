namespace FlanT5.Poplar.Configuration;

/// <summary>
/// Half precision (model.precision: fp16, and training.stochastic_rounding, which rounds into it) is planned, not
/// executed: this runtime computes in fp32 on every backend so far, so an fp16 run would silently be an fp32 one.
/// Whatever runs a config refuses it; <c>flant5 plan</c> and <c>config validate</c> accept it (the xl and xxl presets
/// use it) and say that it is only planned.
/// </summary>
public static class HalfPrecision
{
    public const string PlannedNotExecuted = "planned, not executed on this backend";

    /// <summary>The settings of <paramref name="config"/> that cannot run yet (empty when it computes in fp32).</summary>
    public static IReadOnlyList<ConfigProblem> RefusedForRunning(RunConfig config)
    {
        var problems = new List<ConfigProblem>();
        if (config.Model.Precision == Precision.Fp16)
        {
            problems.Add(new ConfigProblem("model.precision",
                "is fp16: half precision is not executed on this backend yet (the run would compute in fp32); set " +
                "model.precision: fp32 to run. `flant5 plan` and `flant5 config validate` accept fp16 for planning"));
        }
        if (config.Training.StochasticRounding)
        {
            problems.Add(new ConfigProblem("training.stochastic_rounding",
                "is true: stochastic rounding rounds into half precision, which is not executed on this backend yet; " +
                "set training.stochastic_rounding: false to run"));
        }
        return problems;
    }

    /// <summary>For planning: what of <paramref name="config"/> is planned but not executed, or null.</summary>
    public static string? PlanningNote(RunConfig config)
    {
        var planned = new List<string>();
        if (config.Model.Precision == Precision.Fp16) planned.Add("model.precision fp16");
        if (config.Training.StochasticRounding) planned.Add("training.stochastic_rounding");
        return planned.Count == 0 ? null : $"{string.Join(" and ", planned)}: {PlannedNotExecuted}";
    }
}
