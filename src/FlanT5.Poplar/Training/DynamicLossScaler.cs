using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Training;

/// <summary>The scaler's state, as saved in a training checkpoint.</summary>
public readonly record struct LossScalerState(double Scale, int GoodSteps);

/// <summary>
/// The loss scale per step. Static mode keeps one scale (the reference: 1). Dynamic mode multiplies the scale by the
/// backoff factor on a step whose gradients are not finite (that step is skipped) and by the growth factor after
/// <c>growth_interval</c> finite steps in a row, within [minimum, maximum] — as torch.cuda.amp.GradScaler does.
/// </summary>
public sealed class DynamicLossScaler
{
    private readonly LossScalingSection _settings;

    public DynamicLossScaler(LossScalingSection settings)
    {
        if (!(settings.Initial > 0) || !double.IsFinite(settings.Initial))
            throw new ArgumentException($"loss scale {settings.Initial}; expected a finite value > 0", nameof(settings));
        if (settings.Mode == LossScalingMode.Dynamic)
        {
            if (!(settings.GrowthFactor > 1)) throw new ArgumentException($"growth factor {settings.GrowthFactor}; expected > 1", nameof(settings));
            if (settings.BackoffFactor is not (> 0 and < 1))
                throw new ArgumentException($"backoff factor {settings.BackoffFactor}; expected 0 < f < 1", nameof(settings));
            if (settings.GrowthInterval < 1) throw new ArgumentException($"growth interval {settings.GrowthInterval}; expected >= 1", nameof(settings));
            if (!(settings.Minimum > 0) || settings.Minimum > settings.Initial || settings.Initial > settings.Maximum)
                throw new ArgumentException(
                    $"loss scale bounds: expected 0 < minimum ({settings.Minimum}) <= initial ({settings.Initial}) <= maximum ({settings.Maximum})",
                    nameof(settings));
        }
        _settings = settings;
        Scale = settings.Initial;
    }

    public bool IsDynamic => _settings.Mode == LossScalingMode.Dynamic;

    /// <summary>The scale to multiply the loss by in the coming step.</summary>
    public double Scale { get; private set; }

    /// <summary>Finite steps since the last change of scale.</summary>
    public int GoodSteps { get; private set; }

    /// <summary>Times the scale went down.</summary>
    public int Backoffs { get; private set; }

    public LossScalerState State => new(Scale, GoodSteps);

    /// <summary>Restores the state saved with a checkpoint.</summary>
    public void Restore(LossScalerState state)
    {
        if (!(state.Scale > 0) || !double.IsFinite(state.Scale) || state.GoodSteps < 0)
            throw new InvalidDataException($"loss scaler state ({state.Scale}, {state.GoodSteps}) is not valid");
        Scale = state.Scale;
        GoodSteps = state.GoodSteps;
    }

    /// <summary>
    /// Records the outcome of a step computed with <see cref="Scale"/>; returns whether its update may be applied
    /// (false when the gradients overflowed: the caller skips the optimizer update).
    /// </summary>
    public bool Update(bool gradientsFinite)
    {
        if (!gradientsFinite)
        {
            GoodSteps = 0;
            if (IsDynamic)
            {
                var next = Math.Max(_settings.Minimum, Scale * _settings.BackoffFactor);
                if (next != Scale) Backoffs++;
                Scale = next;
            }
            return false;
        }
        GoodSteps++;
        if (IsDynamic && GoodSteps >= _settings.GrowthInterval)
        {
            Scale = Math.Min(_settings.Maximum, Scale * _settings.GrowthFactor);
            GoodSteps = 0;
        }
        return true;
    }
}
