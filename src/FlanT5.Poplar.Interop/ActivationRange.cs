namespace FlanT5.Poplar.Interop;

/// <summary>A module's largest |activation| in a forward pass (<see cref="T5Session.ActivationRanges"/>).</summary>
public readonly record struct ActivationRange(string Module, float MaxAbs)
{
    /// <summary>fp16's largest finite value.</summary>
    public const float HalfMax = 65504f;

    /// <summary>MaxAbs as a share of <see cref="HalfMax"/>.</summary>
    public double OfHalfMax => MaxAbs / HalfMax;
}
