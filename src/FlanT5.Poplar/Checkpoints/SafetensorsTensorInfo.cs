namespace FlanT5.Poplar.Checkpoints;

/// <summary>One tensor entry of a safetensors header; offsets are relative to the start of the data section.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, int[] Shape, long Begin, long End)
{
    public long ElementCount => ShapeMath.ElementCount(Shape);
    public long ByteLength => End - Begin;
    public string ShapeText => ShapeMath.Format(Shape);
}

/// <summary>Shape helpers shared by the checkpoint types.</summary>
public static class ShapeMath
{
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
