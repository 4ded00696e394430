namespace FlanT5.Poplar.Placement;

/// <summary>Floating-point format of a group of tensors.</summary>
public enum NumericPrecision
{
    Fp16,
    Fp32,
}

/// <summary>Sizes and names of <see cref="NumericPrecision"/> values.</summary>
public static class NumericPrecisionExtensions
{
    public static int Bytes(this NumericPrecision precision) => precision == NumericPrecision.Fp16 ? 2 : 4;

    public static string Name(this NumericPrecision precision) => precision == NumericPrecision.Fp16 ? "fp16" : "fp32";

    /// <summary>Parses "fp16"/"float16"/"half" or "fp32"/"float32"/"float"; <paramref name="what"/> names the setting in errors.</summary>
    public static NumericPrecision Parse(string text, string what) => text.Trim().ToLowerInvariant() switch
    {
        "fp16" or "float16" or "half" => NumericPrecision.Fp16,
        "fp32" or "float32" or "float" => NumericPrecision.Fp32,
        _ => throw new ArgumentException($"{what}: '{text}' is not a precision; expected fp16 or fp32"),
    };
}
