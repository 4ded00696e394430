namespace FlanT5.Poplar.Checkpoints;

/// <summary>The element types the safetensors format names (the "dtype" strings of its header).</summary>
public enum SafetensorsDType
{
    Bool, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8E4M3, F8E5M2,
}

/// <summary>Header spellings and element sizes of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8E4M3 or SafetensorsDType.F8E5M2 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static string HeaderName(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool => "BOOL",
        SafetensorsDType.F8E4M3 => "F8_E4M3",
        SafetensorsDType.F8E5M2 => "F8_E5M2",
        _ => dtype.ToString(),
    };

    public static bool TryParse(string name, out SafetensorsDType dtype)
    {
        switch (name)
        {
            case "BOOL": dtype = SafetensorsDType.Bool; return true;
            case "U8": dtype = SafetensorsDType.U8; return true;
            case "I8": dtype = SafetensorsDType.I8; return true;
            case "I16": dtype = SafetensorsDType.I16; return true;
            case "U16": dtype = SafetensorsDType.U16; return true;
            case "F16": dtype = SafetensorsDType.F16; return true;
            case "BF16": dtype = SafetensorsDType.BF16; return true;
            case "I32": dtype = SafetensorsDType.I32; return true;
            case "U32": dtype = SafetensorsDType.U32; return true;
            case "F32": dtype = SafetensorsDType.F32; return true;
            case "F64": dtype = SafetensorsDType.F64; return true;
            case "I64": dtype = SafetensorsDType.I64; return true;
            case "U64": dtype = SafetensorsDType.U64; return true;
            case "F8_E4M3": dtype = SafetensorsDType.F8E4M3; return true;
            case "F8_E5M2": dtype = SafetensorsDType.F8E5M2; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>Whether the reader converts this type to fp32 (the floating types a T5 checkpoint uses).</summary>
    public static bool IsFloatingConvertible(this SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64;

    /// <summary>Parses the export dtype option: fp32, bf16 or fp16 (also F32/BF16/F16, float32, bfloat16, float16).</summary>
    public static SafetensorsDType ParseExportDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "f32" or "float32" => SafetensorsDType.F32,
        "bf16" or "bfloat16" => SafetensorsDType.BF16,
        "fp16" or "f16" or "float16" => SafetensorsDType.F16,
        _ => throw new ArgumentException($"dtype '{text}' is not supported for export; expected fp32, bf16 or fp16"),
    };
}
