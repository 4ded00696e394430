using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class SafetensorsTensorStreamTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = CheckpointTestFiles.NewTempDirectory();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// bf16 tensors of odd element counts: their offsets are not 4 KiB aligned, several straddle the 4 KiB request
    /// boundaries, and the last one ends the file mid-block (the aligned O_DIRECT read runs past the end of the file).
    /// </summary>
    private string WriteOddFile(string name, int count, int seed)
    {
        var rng = new Random(seed);
        var tensors = Enumerable.Range(0, count).Select(i =>
        {
            int rows = 1 + rng.Next(40), cols = 1 + 2 * rng.Next(300);
            return ($"t{i:D2}", new[] { rows, cols }, Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray());
        }).ToList();
        var path = Path.Combine(_dir, name);
        SafetensorsWriter.WriteFile(path, tensors, SafetensorsDType.BF16);
        return path;
    }

    [TestCase(true, 4096, 1, 2)]
    [TestCase(true, 8192, 3, 3)]
    [TestCase(false, 4096, 2, 2)]
    public void StreamedBytesEqualTheMappedReadersBytes(bool direct, int requestBytes, int readsInFlight, int buffers)
    {
        using var a = SafetensorsReader.Open(WriteOddFile("a.safetensors", 30, 1));
        using var b = SafetensorsReader.Open(WriteOddFile("b.safetensors", 7, 2));
        Assert.That(a.Header.DataOffset % 4096, Is.Not.Zero, "the data section starts unaligned");
        // File order for a (grouped into shared ranges), then b out of order (one range per tensor), then a again.
        var order = a.Tensors.Select(t => new StreamedTensorSource(t.Name, a, t))
            .Concat(b.Tensors.Reverse().Select(t => new StreamedTensorSource("b." + t.Name, b, t)))
            .Append(new StreamedTensorSource("a-again", a, a.Tensors[3]))
            .ToList();
        var options = new FileStreamingOptions { Direct = direct, RequestBytes = requestBytes, ReadsInFlight = readsInFlight, Buffers = buffers };
        using var stream = new SafetensorsTensorStream(order, options);
        int seen = 0;
        while (stream.MoveNext())
        {
            var expected = order[seen];
            Assert.That(stream.Current.Name, Is.EqualTo(expected.Name));
            var mapped = new byte[expected.Info.ByteLength];
            expected.File.ReadBytes(expected.Info, mapped);
            Assert.That(stream.Bytes.SequenceEqual(mapped), Is.True, $"bytes of {expected.Name}");
            var floats = new float[expected.Info.ElementCount];
            stream.ReadFloat32(floats);
            Assert.That(CheckpointTestFiles.BitEqual(floats, expected.File.ReadFloat32(expected.Info.Name)), Is.True, $"fp32 of {expected.Name}");
            seen++;
        }
        Assert.That(seen, Is.EqualTo(order.Count));
        Assert.That(stream.MoveNext(), Is.False, "stays at the end");
        if (!direct) Assert.That(stream.Direct, Is.False);
    }

    [Test]
    public void TensorsLargerThanOneRequestAndTheFileTailArriveWhole()
    {
        var rng = new Random(5);
        var big = Enumerable.Range(0, 3 * 4096 + 7).Select(_ => (float)rng.NextDouble()).ToArray();
        var path = Path.Combine(_dir, "big.safetensors");
        SafetensorsWriter.WriteFile(path, [("head", [3], [1f, 2f, 3f]), ("big", [big.Length], big), ("tail", [1], [9f])], SafetensorsDType.F32);
        using var reader = SafetensorsReader.Open(path);
        var order = reader.Tensors.Select(t => new StreamedTensorSource(t.Name, reader, t)).ToList();
        using var stream = new SafetensorsTensorStream(order, new FileStreamingOptions { RequestBytes = 4096, ReadsInFlight = 4 });
        var got = new Dictionary<string, float[]>();
        while (stream.MoveNext())
        {
            var values = new float[stream.Current.Info.ElementCount];
            stream.ReadFloat32(values);
            got[stream.Current.Name] = values;
        }
        Assert.That(got["big"], Is.EqualTo(big));
        Assert.That(got["tail"], Is.EqualTo(new[] { 9f }));
        Assert.That(new FileInfo(path).Length, Is.EqualTo(reader.Header.DataOffset + reader.Get("tail").End), "tail ends the file");
    }

    [Test]
    public void AFileTruncatedAfterOpeningIsReportedWithTheTensorName()
    {
        var path = WriteOddFile("cut.safetensors", 12, 3);
        using var reader = SafetensorsReader.Open(path);
        var last = reader.Tensors.MaxBy(t => t.End)!;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write)) file.SetLength(reader.Header.DataOffset + last.Begin + 3);
        var order = reader.Tensors.OrderBy(t => t.Begin).Select(t => new StreamedTensorSource(t.Name, reader, t)).ToList();
        using var stream = new SafetensorsTensorStream(order, new FileStreamingOptions { RequestBytes = 4096 });
        var error = Assert.Throws<IOException>(() => { while (stream.MoveNext()) { } })!;
        Assert.That(error.Message, Does.Contain(path).And.Contain($"'{last.Name}'").And.Contain("ends"));
    }

    [Test]
    public void AMissingFileIsReportedByName()
    {
        var ranges = new[] { new FileRange(Path.Combine(_dir, "absent.bin"), 0, 10) };
        var error = Assert.Throws<IOException>(() => new FileRangeStream(ranges).Dispose())!;
        Assert.That(error.Message, Does.Contain("absent.bin"));
    }

    [Test]
    public void StreamingAWholeCheckpointLoadsWhatTheMappedReaderLoads()
    {
        foreach (var source in new[] { CheckpointTestFiles.FlanT5Tiny, CheckpointTestFiles.HfT5Tiny })
        {
            using var checkpoint = HfCheckpointLoader.Open(source);
            var streamed = checkpoint.LoadAll(); // HostModelState.ReadAll streams an HfCheckpoint
            Assert.That(streamed.Tensors.Select(t => t.Name), Is.EquivalentTo(checkpoint.Tensors.Select(t => t.Name)));
            foreach (var t in checkpoint.Tensors)
            {
                var mapped = new float[t.ElementCount];
                checkpoint.ReadTensor(t.Name, mapped);
                Assert.That(CheckpointTestFiles.BitEqual(streamed[t.Name].Data, mapped), Is.True, $"{source}: {t.Name}");
            }
        }
    }

    [Test]
    public void ATensorLargerThanAGroupArrivesInPiecesOfWholeRows()
    {
        var rng = new Random(7);
        var big = Enumerable.Range(0, 37 * 50).Select(_ => (float)rng.NextDouble()).ToArray(); // 37 rows of 100 bf16 bytes
        var path = Path.Combine(_dir, "pieces.safetensors");
        SafetensorsWriter.WriteFile(path, [("small", [3], [1f, 2f, 3f]), ("big", [37, 50], big), ("after", [2], [4f, 5f])], SafetensorsDType.BF16);
        using var reader = SafetensorsReader.Open(path);
        var order = reader.Tensors.OrderBy(t => t.Begin).Select(t => new StreamedTensorSource(t.Name, reader, t)).ToList();
        using var stream = new SafetensorsTensorStream(order, new FileStreamingOptions { RequestBytes = 4096 }, groupBytes: 1000);
        var pieces = new List<(string Name, long Start, long Count, bool Last)>();
        var assembled = new float[big.Length];
        while (stream.MoveNext())
        {
            pieces.Add((stream.Current.Name, stream.PieceStart, stream.PieceElements, stream.IsLastPiece));
            Assert.That(stream.Bytes.Length, Is.EqualTo(stream.PieceElements * 2));
            if (stream.Current.Name == "big") stream.ReadFloat32(assembled);
        }
        // 1000 bytes hold 10 rows of 100 bytes: pieces of rows 0-9, 10-19, 20-29, 30-36.
        Assert.That(pieces.Where(p => p.Name == "big").Select(p => (p.Start, p.Count, p.Last)),
            Is.EqualTo(new[] { (0L, 500L, false), (500L, 500L, false), (1000L, 500L, false), (1500L, 350L, true) }));
        Assert.That(pieces.Select(p => p.Name).Distinct(), Is.EqualTo(new[] { "small", "big", "after" }));
        Assert.That(CheckpointTestFiles.BitEqual(assembled, reader.ReadFloat32("big")), Is.True);
    }
}
