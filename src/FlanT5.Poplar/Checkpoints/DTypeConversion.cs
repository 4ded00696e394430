using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// fp32 ↔ bf16/fp16 conversions on little-endian byte spans. Narrowing rounds to nearest, ties to even
/// (NaN stays NaN); widening is exact, so fp32 → bf16/fp16 → fp32 → bf16/fp16 reproduces the same bits.
/// </summary>
public static class DTypeConversion
{
    /// <summary>Widens <paramref name="source"/> (elements of <paramref name="dtype"/>) into fp32.</summary>
    public static void ToFloat32(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int n = destination.Length;
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(source[..(n * 4)]).CopyTo(destination);
                break;
            case SafetensorsDType.BF16:
                Bf16ToFloat32(MemoryMarshal.Cast<byte, ushort>(source[..(n * 2)]), destination);
                break;
            case SafetensorsDType.F16:
            {
                var halves = MemoryMarshal.Cast<byte, Half>(source[..(n * 2)]);
                for (int i = 0; i < n; i++) destination[i] = (float)halves[i];
                break;
            }
            case SafetensorsDType.F64:
            {
                var doubles = MemoryMarshal.Cast<byte, double>(source[..(n * 8)]);
                for (int i = 0; i < n; i++) destination[i] = (float)doubles[i];
                break;
            }
            default:
                throw new NotSupportedException($"dtype {dtype.HeaderName()} does not convert to fp32");
        }
    }

    /// <summary>Narrows fp32 into <paramref name="dtype"/> elements (round to nearest even).</summary>
    public static void FromFloat32(ReadOnlySpan<float> source, SafetensorsDType dtype, Span<byte> destination)
    {
        int n = source.Length;
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case SafetensorsDType.BF16:
            {
                var dest = MemoryMarshal.Cast<byte, ushort>(destination[..(n * 2)]);
                for (int i = 0; i < n; i++) dest[i] = Float32ToBf16(source[i]);
                break;
            }
            case SafetensorsDType.F16:
            {
                // (Half)float is IEEE round-to-nearest-even, overflow to ±inf.
                var dest = MemoryMarshal.Cast<byte, Half>(destination[..(n * 2)]);
                for (int i = 0; i < n; i++) dest[i] = (Half)source[i];
                break;
            }
            default:
                throw new NotSupportedException($"export to dtype {dtype.HeaderName()} is not supported");
        }
    }

    /// <summary>bf16 is the top half of an fp32: widening is a shift.</summary>
    public static void Bf16ToFloat32(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        var bits = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<ushort>.Count <= source.Length; i += Vector256<ushort>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.Create(source.Slice(i, Vector256<ushort>.Count)));
                Vector256.ShiftLeft(lower, 16).CopyTo(bits.Slice(i));
                Vector256.ShiftLeft(upper, 16).CopyTo(bits.Slice(i + Vector256<uint>.Count));
            }
        }
        for (; i < source.Length; i++) bits[i] = (uint)source[i] << 16;
    }

    public static ushort Float32ToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040); // quiet NaN, keeps the sign
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float Bf16ToFloat32(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);
}
