using System.Buffers.Binary;
using System.Text;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class SafetensorsReaderTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = CheckpointTestFiles.NewTempDirectory();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    [TestCase(SafetensorsDType.F32)]
    [TestCase(SafetensorsDType.BF16)]
    [TestCase(SafetensorsDType.F16)]
    public void WrittenFileReadsBackWithinTheDTypeRounding(SafetensorsDType dtype)
    {
        var rng = new Random(3);
        var values = Enumerable.Range(0, 1000).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        var path = Path.Combine(_dir, "x.safetensors");
        SafetensorsWriter.WriteFile(path, [("w", [10, 100], values)], dtype);
        using var reader = SafetensorsReader.Open(path);
        var info = reader.Get("w");
        Assert.That(info.DType, Is.EqualTo(dtype));
        Assert.That(info.Shape, Is.EqualTo(new[] { 10, 100 }));
        var back = reader.ReadFloat32("w");
        for (int i = 0; i < values.Length; i++)
        {
            float expected = dtype switch
            {
                SafetensorsDType.BF16 => DTypeConversion.Bf16ToFloat32(DTypeConversion.Float32ToBf16(values[i])),
                SafetensorsDType.F16 => (float)(Half)values[i],
                _ => values[i],
            };
            Assert.That(BitConverter.SingleToInt32Bits(back[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"element {i}");
            Assert.That(back[i], Is.EqualTo(values[i]).Within(dtype == SafetensorsDType.BF16 ? 4 / 256.0 : 4 / 2048.0));
        }
        Assert.That((new FileInfo(path).Length - 8 - values.Length * dtype.ElementSize()) % 8, Is.Zero, "header padded to 8 bytes");
    }

    [Test]
    public void Bf16RoundsToNearestEven()
    {
        // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
        Assert.That(DTypeConversion.Float32ToBf16(1f + 1f / 256), Is.EqualTo(0x3F80));
        Assert.That(DTypeConversion.Float32ToBf16(1f + 3f / 256), Is.EqualTo(0x3F82));
        Assert.That(DTypeConversion.Float32ToBf16(1f + 1f / 256 + 1f / 65536), Is.EqualTo(0x3F81));
        Assert.That(float.IsNaN(DTypeConversion.Bf16ToFloat32(DTypeConversion.Float32ToBf16(float.NaN))));
        Assert.That(DTypeConversion.Bf16ToFloat32(DTypeConversion.Float32ToBf16(float.MaxValue)), Is.EqualTo(float.PositiveInfinity));
    }

    [Test]
    public void VectorisedBf16WideningMatchesScalar()
    {
        var rng = new Random(1);
        var source = Enumerable.Range(0, 1037).Select(_ => (ushort)rng.Next(65536)).ToArray();
        var wide = new float[source.Length];
        DTypeConversion.Bf16ToFloat32(source, wide);
        for (int i = 0; i < source.Length; i++)
            Assert.That(BitConverter.SingleToUInt32Bits(wide[i]), Is.EqualTo((uint)source[i] << 16));
    }

    [Test]
    public void VectorisedBf16NarrowingMatchesScalar()
    {
        var rng = new Random(2);
        var values = Enumerable.Range(0, 4133).Select(i => i % 97 == 0 ? float.NaN
            : i % 89 == 0 ? -float.NaN
            : BitConverter.Int32BitsToSingle(rng.Next(int.MinValue, int.MaxValue))).ToArray();
        var narrow = new ushort[values.Length];
        DTypeConversion.Float32ToBf16(values, narrow);
        for (int i = 0; i < values.Length; i++)
            Assert.That(narrow[i], Is.EqualTo(DTypeConversion.Float32ToBf16(values[i])), $"element {i} ({values[i]})");
    }

    private static byte[] FileWithHeader(string json, int dataBytes)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private static string ErrorOf(byte[] bytes)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsReader.FromBytes(bytes, "bad.safetensors").Dispose())!;
        Assert.That(e.Message, Does.StartWith("bad.safetensors: "));
        return e.Message;
    }

    [Test]
    public void TruncatedFileNamesTheTensorPastTheEnd()
    {
        var valid = CheckpointTestFiles.SmallValidFile();
        Assert.That(ErrorOf(valid[..^4]), Does.Contain("tensor 'empty'").Or.Contain("tensor 'c'").And.Contain("past the end"));
        Assert.That(ErrorOf(valid[..5]), Does.Contain("truncated"));
        Assert.That(ErrorOf([]), Does.Contain("truncated"));
    }

    [Test]
    public void HeaderLengthPastTheEndIsReported()
    {
        var bytes = CheckpointTestFiles.SmallValidFile();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length);
        Assert.That(ErrorOf(bytes), Does.Contain("runs past the end of the file"));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        Assert.That(ErrorOf(bytes), Does.Contain("exceeds"));
    }

    [Test]
    public void UnknownDTypeIsReported() =>
        Assert.That(ErrorOf(FileWithHeader("""{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}""", 4)),
            Does.Contain("tensor 'w'").And.Contain("unknown dtype 'F7'"));

    [Test]
    public void OverlappingRangesAreReported() =>
        Assert.That(ErrorOf(FileWithHeader("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12)),
            Does.Contain("tensor 'b'").And.Contain("overlap tensor 'a'"));

    [Test]
    public void ShapeAndSizeMismatchIsReported() =>
        Assert.That(ErrorOf(FileWithHeader("""{"w":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,8]}}""", 8)),
            Does.Contain("tensor 'w'").And.Contain("= 12 bytes").And.Contain("hold 8"));

    [TestCase("not json", "not valid JSON")]
    [TestCase("[1,2]", "JSON object")]
    [TestCase("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "shape entry")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", "end before they begin")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1]}}""", "data_offsets")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "twice")]
    [TestCase("""{"__metadata__":{"format":1}}""", "must be a string")]
    [TestCase("""{"w":{"dtype":"F32","shape":[65536,65536,65536,65536],"data_offsets":[0,8]}}""", "too large")]
    public void MalformedHeadersAreReported(string json, string expected) =>
        Assert.That(ErrorOf(FileWithHeader(json, 8)), Does.Contain(expected));

    [Test]
    public void IndexEntryMissingFromItsFileIsReported()
    {
        SafetensorsWriter.WriteFile(Path.Combine(_dir, "model-00001-of-00001.safetensors"), [("a", [2], [1f, 2f])]);
        SafetensorsIndex.Write(Path.Combine(_dir, SafetensorsIndex.FileName),
            new Dictionary<string, string> { ["a"] = "model-00001-of-00001.safetensors", ["b"] = "model-00001-of-00001.safetensors" }, 8);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFileSet.Open(_dir).Dispose())!;
        Assert.That(e.Message, Does.Contain("'b'").And.Contain("model-00001-of-00001.safetensors").And.Contain("does not hold it"));
    }

    [Test]
    public void IndexNamingAMissingFileOrAnUnlistedTensorIsReported()
    {
        SafetensorsWriter.WriteFile(Path.Combine(_dir, "s1.safetensors"), [("a", [2], [1f, 2f]), ("extra", [1], [3f])]);
        var index = Path.Combine(_dir, SafetensorsIndex.FileName);
        SafetensorsIndex.Write(index, new Dictionary<string, string> { ["a"] = "s1.safetensors", ["b"] = "s2.safetensors" }, 8);
        Assert.That(Assert.Throws<InvalidDataException>(() => SafetensorsFileSet.Open(_dir).Dispose())!.Message,
            Does.Contain("'s2.safetensors', which does not exist"));
        SafetensorsIndex.Write(index, new Dictionary<string, string> { ["a"] = "s1.safetensors" }, 8);
        Assert.That(Assert.Throws<InvalidDataException>(() => SafetensorsFileSet.Open(_dir).Dispose())!.Message,
            Does.Contain("holds tensor 'extra', which the index does not list"));
        SafetensorsIndex.Write(index, new Dictionary<string, string> { ["a"] = "../s1.safetensors" }, 8);
        Assert.That(Assert.Throws<InvalidDataException>(() => SafetensorsFileSet.Open(_dir).Dispose())!.Message,
            Does.Contain("expected a file name"));
    }

    [Test]
    public void IndexMayListAbsentNamesTheCallerAccepts()
    {
        SafetensorsWriter.WriteFile(Path.Combine(_dir, "s1.safetensors"), [("a", [2], [1f, 2f])]);
        SafetensorsIndex.Write(Path.Combine(_dir, SafetensorsIndex.FileName),
            new Dictionary<string, string> { ["a"] = "s1.safetensors", ["alias"] = "s1.safetensors" }, 8);
        using var set = SafetensorsFileSet.Open(_dir, n => n == "alias");
        Assert.That(set.Names, Is.EqualTo(new[] { "a" }));
        Assert.That(set.ListedButAbsent, Is.EqualTo(new[] { "alias" }));
    }

    [TestCase("5GB", 5_000_000_000L)]
    [TestCase("200MB", 200_000_000L)]
    [TestCase("10KB", 10_000L)]
    [TestCase("2GiB", 2L << 30)]
    [TestCase("1.5MB", 1_500_000L)]
    [TestCase("12345", 12345L)]
    public void SizesParseAsHuggingFaceDoes(string text, long bytes) => Assert.That(ByteSize.Parse(text), Is.EqualTo(bytes));

    [TestCase("")]
    [TestCase("GB")]
    [TestCase("-5MB")]
    [TestCase("5XB")]
    public void BadSizesAreRejected(string text) => Assert.Throws<FormatException>(() => ByteSize.Parse(text));
}
