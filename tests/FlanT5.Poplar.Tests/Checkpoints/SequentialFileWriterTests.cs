using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

public class SequentialFileWriterTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = CheckpointTestFiles.NewTempDirectory();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>Unaligned pieces, pieces larger than the staging buffer and pieces filled in place all land in order,
    /// and the file ends exactly at the last byte (O_DIRECT writes whole blocks and cuts the file afterwards).</summary>
    [TestCase(true, 8192)]
    [TestCase(false, 8192)]
    [TestCase(true, 1 << 20)]
    public void WritesExactlyTheBytesGivenInOrder(bool direct, int bufferBytes)
    {
        var path = Path.Combine(_dir, "out.bin");
        var random = new Random(7);
        var expected = new MemoryStream();
        using (var writer = new SequentialFileWriter(path, bufferBytes, direct))
        {
            foreach (int size in new[] { 8, 4093, 1, 20_000, 0, 4096, 77, 3 * 8192 + 5, 1000 })
            {
                var bytes = new byte[size];
                random.NextBytes(bytes);
                writer.Write(bytes);
                expected.Write(bytes);
                // The same amount again, filled in place in the staging buffer.
                int inPlace = Math.Min(size, bufferBytes - 4096);
                random.NextBytes(bytes);
                bytes.AsSpan(0, inPlace).CopyTo(writer.GetSpan(inPlace));
                writer.Advance(inPlace);
                expected.Write(bytes, 0, inPlace);
                Assert.That(writer.Position, Is.EqualTo(expected.Length));
            }
            writer.Complete(flushToDisk: direct);
        }
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(expected.ToArray()));
    }

    [Test]
    public void AnEmptyFileStaysEmpty()
    {
        var path = Path.Combine(_dir, "empty.bin");
        using (var writer = new SequentialFileWriter(path)) writer.Complete();
        Assert.That(new FileInfo(path).Length, Is.Zero);
    }

    [Test]
    public void MisuseIsRefusedWithThePath()
    {
        var path = Path.Combine(_dir, "misuse.bin");
        using var writer = new SequentialFileWriter(path, bufferBytes: 8192);
        Assert.That(() => writer.GetSpan(8192), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains(path));
        writer.GetSpan(10);
        Assert.That(() => writer.Advance(8193), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains(path));
        writer.Write([1, 2, 3]);
        writer.Complete();
        Assert.That(() => writer.Write([4]), Throws.InvalidOperationException.With.Message.Contains(path));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    [Platform(Include = "Linux", Reason = "writes to /dev/full, where every write fails with ENOSPC")]
    public void AFailedBackgroundWriteIsReportedWithThePathAndTheBytes()
    {
        using var writer = new SequentialFileWriter("/dev/full", bufferBytes: 8192, direct: false);
        var bytes = new byte[3 * 8192];
        // The first full buffer is written in the background; its failure surfaces at the next call that waits for it.
        Assert.That(() => { writer.Write(bytes); writer.Complete(flushToDisk: false); },
            Throws.InstanceOf<IOException>().With.Message.Contains("/dev/full").And.Message.Contains("writing bytes [0, "));
    }

    [Test]
    public void ABufferThatIsNotWholeBlocksIsRefused()
    {
        Assert.That(() => new SequentialFileWriter(Path.Combine(_dir, "x.bin"), bufferBytes: 5000),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("multiple of 4096"));
    }

    [Test]
    public void WritesPastThePageCacheExactlyWhereTheFileSystemAllowsIt()
    {
        // The test folder is on an ordinary disk file system in CI (O_DIRECT allowed); on tmpfs or another OS the
        // writer must fall back to ordinary writes rather than fail.
        var probe = Path.Combine(_dir, "probe.bin");
        File.WriteAllBytes(probe, []);
        bool allowed;
        using (var handle = FileSystemSync.TryOpenDirect(probe, forWriting: true)) allowed = handle is not null;
        using (var writer = new SequentialFileWriter(Path.Combine(_dir, "direct.bin")))
            Assert.That(writer.Direct, Is.EqualTo(allowed));
        using var buffered = new SequentialFileWriter(Path.Combine(_dir, "buffered.bin"), direct: false);
        Assert.That(buffered.Direct, Is.False);
    }
}
