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
                Float32ToBf16(source, MemoryMarshal.Cast<byte, ushort>(destination[..(n * 2)]));
                break;
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

    /// <summary>Narrows fp32 to bf16, round to nearest even, NaN kept quiet (vectorised where the CPU allows).</summary>
    public static void Float32ToBf16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        var bits = MemoryMarshal.Cast<float, uint>(source);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var absMask = Vector256.Create(0x7FFF_FFFFu);
            var infinity = Vector256.Create(0x7F80_0000u);
            var quiet = Vector256.Create(0x0040_0000u);
            for (; i + 2 * Vector256<uint>.Count <= bits.Length; i += 2 * Vector256<uint>.Count)
            {
                var lower = RoundToBf16(Vector256.Create(bits.Slice(i, Vector256<uint>.Count)), absMask, infinity, quiet);
                var upper = RoundToBf16(Vector256.Create(bits.Slice(i + Vector256<uint>.Count, Vector256<uint>.Count)), absMask, infinity, quiet);
                Vector256.Narrow(lower, upper).CopyTo(destination.Slice(i));
            }
        }
        for (; i < bits.Length; i++) destination[i] = Float32ToBf16(source[i]);
    }

    /// <summary>Eight lanes of <see cref="Float32ToBf16(float)"/>, the result in the low 16 bits of each lane.</summary>
    private static Vector256<uint> RoundToBf16(Vector256<uint> bits, Vector256<uint> absMask, Vector256<uint> infinity, Vector256<uint> quiet)
    {
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        var nan = Vector256.GreaterThan(bits & absMask, infinity);
        return Vector256.ConditionalSelect(nan, (bits | quiet) >> 16, rounded);
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
