using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// Streams a Hugging Face checkpoint through the tensor-parallel device layout and back, one tensor at a time:
/// read ahead by <see cref="SafetensorsTensorStream"/> (O_DIRECT; every dtype kept as stored) → shard into whole tp
/// shard buffers (vocab padded) → join back block by block → compare each block bit-for-bit with what was read, then
/// drop it (as the disk measurement drops what it reads); blocks are spread over the cores while the next tensors
/// are read. With --output the joined tensors are kept and exported (bf16) instead, through the fp32 path.
/// The disk's sequential read is measured cold in the same run with the same reader (same request size, reads in
/// flight, O_DIRECT) right before and right after the conversion — the device's speed drifts between runs on a
/// shared host — and the conversion is compared with their mean; an ordinary buffered read is reported too.
/// </summary>
internal static class CheckpointStreamMode
{
    /// <summary>Range size of the disk measurement: each file is read in pieces this large, like the largest tensors.</summary>
    private const int DiskRangeBytes = 64 << 20;

    public static int Run(BenchOptions options)
    {
        var dir = options.Require("dir");
        int tp = options.Int("tp", 8);
        var output = options.Get("output");
        var files = Directory.GetFiles(dir, "*.safetensors").Order().ToList();
        long fileBytes = files.Sum(f => new FileInfo(f).Length);
        var defaults = new FileStreamingOptions();
        var streaming = new FileStreamingOptions
        {
            RequestBytes = options.Int("request-mib", defaults.RequestBytes >> 20) << 20,
            ReadsInFlight = options.Int("in-flight", defaults.ReadsInFlight),
            Buffers = options.Int("buffers", defaults.Buffers),
        };
        Console.WriteLine($"{dir}: {files.Count} safetensors file(s), {fileBytes / 1e9:F2} GB; tensor parallel {tp}; {Environment.ProcessorCount} CPUs; " +
            $"reads of {streaming.RequestBytes >> 20} MiB, {streaming.ReadsInFlight} in flight, {streaming.Buffers} buffers");

        bool dropCachesAllowed = TryDropCaches();
        Console.WriteLine($"/proc/sys/vm/drop_caches: {(dropCachesAllowed ? "written (all caches dropped)" : "not permitted; dropping each file's pages with posix_fadvise(DONTNEED) instead")}");
        DropFromPageCache(files);
        var (bufferedBytes, bufferedSeconds) = Timed(() => BufferedSequentialRead(files));
        Console.WriteLine($"disk, buffered read (16 MiB FileStream reads, cold): {bufferedBytes / 1e9:F2} GB in {bufferedSeconds:F2} s = {bufferedBytes / bufferedSeconds / 1e9:F3} GB/s");
        double before = DiskRead(files, streaming, "before");

        DropFromPageCache(files);
        bool peakReset = ResetPeakRss();
        var watch = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long storedBytes;
        bool direct = true;
        using (var checkpoint = HfCheckpointLoader.Open(dir))
        {
            double openSeconds = watch.Elapsed.TotalSeconds;
            TensorParallelSharder.Validate(checkpoint.Map, tp);
            storedBytes = checkpoint.Tensors.Sum(t => checkpoint.Files.Info(checkpoint.FileKey(t.Name)).ByteLength);
            if (output is not null)
            {
                using var roundTrip = new TensorParallelRoundTrip(checkpoint, tp);
                HfCheckpointExporter.Export(roundTrip, output, new HfExportOptions { DType = SafetensorsDType.BF16 });
                Console.WriteLine($"{roundTrip.Verified} tensors round-tripped through TP{tp} bit-exact (fp32) and exported");
            }
            else
            {
                var run = new StreamedRoundTrip(checkpoint, tp, streaming);
                run.Run();
                direct = run.Direct;
                Console.WriteLine($"layout {checkpoint.Layout}, {checkpoint.Files.ListedButAbsent.Count} index aliases absent from the files; " +
                    $"{run.Verified} tensors round-tripped through TP{tp} bit-exact ({(run.Direct ? "O_DIRECT" : "buffered")} reads, stored dtype); " +
                    $"read buffers {run.ReadBufferBytes / 1e6:F0} MB, shard buffers {run.ShardBufferBytes / 1e6:F0} MB");
                Console.WriteLine($"time: opening and validating the checkpoint {openSeconds:F2} s, waiting for reads {run.WaitSeconds:F2} s (first tensor {run.FirstWaitSeconds:F2} s), shard+unshard+compare {run.WorkSeconds:F2} s " +
                    $"({Environment.ProcessorCount} threads; the reads of the next tensors overlap it)");
            }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        Console.WriteLine($"CPU time of the conversion (all threads of the process): {cpuSeconds:F2} s in {seconds:F2} s wall");
        long peak = ProcessMemory.PeakResidentBytes();
        double after = DiskRead(files, streaming, "after");

        double throughput = storedBytes / seconds;
        double disk = (before + after) / 2;
        Console.WriteLine($"HF → TP{tp} → HF{(output is null ? "" : " → export " + output)}: {storedBytes / 1e9:F2} GB in {seconds:F2} s = {throughput / 1e9:F3} GB/s " +
            $"= {throughput / disk:F2} × the disk's {(direct ? "O_DIRECT" : "buffered")} sequential read ({disk / 1e9:F3} GB/s, mean of before and after; " +
            $"{throughput / before:F2} × before, {throughput / after:F2} × after)");
        Console.WriteLine($"peak RSS during the conversion: {peak / 1e9:F2} GB (VmHWM{(peakReset ? ", reset before it" : ", whole process")})");
        bool ok = peak <= 2_000_000_000 && throughput >= 0.7 * disk;
        Console.WriteLine(ok ? "targets met (peak RSS ≤ 2 GB, throughput ≥ 0.7 × sequential read)" : "TARGETS NOT MET");
        return ok ? 0 : 1;
    }

    /// <summary>Reads every file cold through the conversion's own reader (same requests, same flags) and discards it.</summary>
    private static double DiskRead(List<string> files, FileStreamingOptions streaming, string when)
    {
        DropFromPageCache(files);
        var ranges = new List<FileRange>();
        foreach (var file in files)
        {
            long length = new FileInfo(file).Length;
            for (long at = 0; at < length; at += DiskRangeBytes) ranges.Add(new FileRange(file, at, (int)Math.Min(DiskRangeBytes, length - at)));
        }
        bool direct = false;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var (bytes, seconds) = Timed(() =>
        {
            using var stream = new FileRangeStream(ranges, streaming);
            long total = 0;
            while (stream.MoveNext()) total += stream.Current.Length;
            direct = stream.AllDirect;
            return total;
        });
        Console.WriteLine($"disk, {(direct ? "O_DIRECT" : "buffered")} read {when} (the conversion's reader, cold): {bytes / 1e9:F2} GB in {seconds:F2} s = {bytes / seconds / 1e9:F3} GB/s " +
            $"(CPU {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:F2} s)");
        return bytes / seconds;
    }

    private static (long Bytes, double Seconds) Timed(Func<long> read)
    {
        var watch = Stopwatch.StartNew();
        long bytes = read();
        return (bytes, watch.Elapsed.TotalSeconds);
    }

    private static bool TryDropCaches()
    {
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "1");
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    private static void DropFromPageCache(IEnumerable<string> files)
    {
        foreach (var file in files)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            FileSystemSync.DontNeed(stream.SafeFileHandle);
        }
    }

    private static long BufferedSequentialRead(IEnumerable<string> files)
    {
        var buffer = new byte[16 << 20];
        long total = 0;
        foreach (var file in files)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            int n;
            while ((n = stream.Read(buffer)) > 0) total += n;
        }
        return total;
    }

    private static bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }
}
