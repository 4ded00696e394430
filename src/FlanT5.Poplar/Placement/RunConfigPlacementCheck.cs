using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Placement;

/// <summary>
/// Checks a run config's placement (execution.tensor_parallel, pipeline_stages, data_parallel, pipeline_schedule,
/// recompute, weights_location, optimizer_location) against its model, with the rules of <see cref="PlacementPlan"/>,
/// the ones the device session applies too. The model is model.checkpoint's config.json, or the geometry of
/// model.architecture while the checkpoint is not there (a preset read for planning). <c>flant5 config validate</c>
/// and every command that runs a config call this one check before they start.
/// </summary>
public static class RunConfigPlacementCheck
{
    public static IReadOnlyList<ConfigProblem> Check(RunConfig config)
    {
        if (ModelOf(config) is not { } found) return [];
        var (model, name) = found;
        var e = config.Execution;
        if (e.TensorParallel < 1 || e.PipelineStages < 1 || e.DataParallel < 1) return []; // RunConfigValidator says so
        try
        {
            PlacementPlan.Create(model, e.TensorParallel, e.PipelineStages, e.DataParallel, e.PipelineSchedule, e.Recompute,
                e.WeightsLocation, e.OptimizerLocation);
            return [];
        }
        catch (InvalidPlanException problem)
        {
            string key = problem.Field switch
            {
                "encoder_layers_per_stage" or "decoder_layers_per_stage" => "execution.pipeline_stages",
                "replicas" => "execution.data_parallel",
                var field => "execution." + field,
            };
            string detail = problem.Message[(problem.Field.Length + 2)..]; // the message after "field: "
            return [new ConfigProblem(key, $"does not fit {name}: {detail}", ModelKeys(config))];
        }
    }

    /// <summary>The model a run config plans for, with a name for messages, or null when it names none that exists.</summary>
    public static (T5ModelConfig Model, string Name)? ModelOf(RunConfig config)
    {
        if (config.Model.Checkpoint is { } checkpoint && File.Exists(Path.Combine(checkpoint, "config.json")))
            return (T5ModelConfig.Load(Path.Combine(checkpoint, "config.json")), $"the model in {checkpoint}");
        if (config.Model.Architecture is { } architecture && RunConfigValidator.Architectures.Contains(architecture))
            return (T5ModelConfig.FlanT5(architecture["flan-t5-".Length..]), architecture);
        return null;
    }

    private static string[] ModelKeys(RunConfig config) =>
        config.Model.Checkpoint is { } checkpoint && File.Exists(Path.Combine(checkpoint, "config.json"))
            ? ["model.checkpoint"] : ["model.architecture"];
}
