using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// Streams a Hugging Face checkpoint through the tensor-parallel device layout and back, one tensor at a time:
/// read ahead by <see cref="SafetensorsTensorStream"/> (O_DIRECT; every dtype kept as stored) → shard into whole tp
/// shard buffers (vocab padded) → join back block by block → compare each block bit-for-bit with what was read, then
/// drop it (as the disk measurement drops what it reads); blocks are spread over all cores but one (--threads) while
/// the next tensors are read. With --output the joined tensors are kept and exported (bf16) instead, through the fp32 path.
/// The disk's sequential read is measured cold in the same run with the same reader (same request size, reads in
/// flight, O_DIRECT), alternating with the conversion: disk, conversion, disk, conversion, …, disk. Each conversion is
/// compared with the mean of the disk reads right before and after it, and the target is checked on the median of
/// those ratios: the virtual disk of a shared host swings between 1.5 and 7 GB/s from one second to the next, so one
/// pair of ~1 s measurements says little. An ordinary buffered read is reported too.
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
        // One core is left to the readers by default: each O_DIRECT completion needs a CPU at once to start the next
        // request, and with every core busy the disk queue runs dry (2 vCPUs: 0.54-0.94 × the disk over 10 runs with 2
        // workers, 0.79-0.90 over 8 with 1, in about the same wall time).
        int threads = options.Int("threads", Math.Max(1, Environment.ProcessorCount - 1));
        int rounds = output is null ? options.Int("rounds", 5) : 1;
        if (rounds < 1) throw new ArgumentException($"--rounds must be at least 1, not {rounds}");
        var files = Directory.GetFiles(dir, "*.safetensors").Order().ToList();
        long fileBytes = files.Sum(f => new FileInfo(f).Length);
        var defaults = new FileStreamingOptions();
        var streaming = new FileStreamingOptions
        {
            RequestBytes = options.Int("request-mib", defaults.RequestBytes >> 20) << 20,
            ReadsInFlight = options.Int("in-flight", defaults.ReadsInFlight),
            Buffers = options.Int("buffers", defaults.Buffers),
        };
        Console.WriteLine($"{dir}: {files.Count} safetensors file(s), {fileBytes / 1e9:F2} GB; tensor parallel {tp}; {Environment.ProcessorCount} CPUs, " +
            $"{threads} conversion thread(s); reads of {streaming.RequestBytes >> 20} MiB, {streaming.ReadsInFlight} in flight, {streaming.Buffers} buffers; {rounds} round(s)");

        bool dropCachesAllowed = TryDropCaches();
        Console.WriteLine($"/proc/sys/vm/drop_caches: {(dropCachesAllowed ? "written (all caches dropped)" : "not permitted; dropping each file's pages with posix_fadvise(DONTNEED) instead")}");
        DropFromPageCache(files);
        var (bufferedBytes, bufferedSeconds) = Timed(() => BufferedSequentialRead(files));
        Console.WriteLine($"disk, buffered read (16 MiB FileStream reads, cold): {bufferedBytes / 1e9:F2} GB in {bufferedSeconds:F2} s = {bufferedBytes / bufferedSeconds / 1e9:F3} GB/s");

        var ratios = new List<double>();
        long peak = 0;
        double disk = DiskRead(files, streaming, "round 1, before");
        for (int round = 1; round <= rounds; round++)
        {
            var conversion = Convert(dir, files, tp, threads, streaming, output);
            peak = Math.Max(peak, conversion.PeakRss);
            double next = DiskRead(files, streaming, round < rounds ? $"after round {round}, before round {round + 1}" : $"after round {round}");
            double throughput = conversion.Bytes / conversion.Seconds;
            double mean = (disk + next) / 2;
            ratios.Add(throughput / mean);
            Console.WriteLine($"round {round}: HF → TP{tp} → HF{(output is null ? "" : " → export " + output)}: {conversion.Bytes / 1e9:F2} GB in {conversion.Seconds:F2} s = " +
                $"{throughput / 1e9:F3} GB/s = {throughput / mean:F2} × the disk's {(conversion.Direct ? "O_DIRECT" : "buffered")} sequential read " +
                $"({mean / 1e9:F3} GB/s, mean of before and after; {throughput / disk:F2} × before, {throughput / next:F2} × after)");
            disk = next;
        }
        double median = Median(ratios);
        Console.WriteLine($"throughput / disk sequential read over {rounds} round(s): median {median:F2} (min {ratios.Min():F2}, max {ratios.Max():F2})");
        Console.WriteLine($"peak RSS during the conversions: {peak / 1e9:F2} GB (VmHWM)");
        bool ok = peak <= 2_000_000_000 && median >= 0.7;
        Console.WriteLine(ok ? "targets met (peak RSS ≤ 2 GB, median throughput ≥ 0.7 × sequential read)" : "TARGETS NOT MET");
        return ok ? 0 : 1;
    }

    private readonly record struct Conversion(long Bytes, double Seconds, bool Direct, long PeakRss);

    /// <summary>One cold conversion of the whole checkpoint; prints where its time went.</summary>
    private static Conversion Convert(string dir, List<string> files, int tp, int threads, FileStreamingOptions streaming, string? output)
    {
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
                Console.WriteLine($"  {roundTrip.Verified} tensors round-tripped through TP{tp} bit-exact (fp32) and exported");
            }
            else
            {
                var run = new StreamedRoundTrip(checkpoint, tp, streaming, threads);
                run.Run();
                direct = run.Direct;
                Console.WriteLine($"  layout {checkpoint.Layout}, {checkpoint.Files.ListedButAbsent.Count} index aliases absent from the files; " +
                    $"{run.Verified} tensors round-tripped through TP{tp} bit-exact ({(run.Direct ? "O_DIRECT" : "buffered")} reads, stored dtype); " +
                    $"read buffers {run.ReadBufferBytes / 1e6:F0} MB, shard buffers {run.ShardBufferBytes / 1e6:F0} MB");
                Console.WriteLine($"  time: opening and validating the checkpoint {openSeconds:F2} s, waiting for reads {run.WaitSeconds:F2} s (first tensor {run.FirstWaitSeconds:F2} s), " +
                    $"shard+unshard+compare {run.WorkSeconds:F2} s ({threads} thread(s); the reads of the next tensors overlap it)");
            }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        long peak = ProcessMemory.PeakResidentBytes();
        Console.WriteLine($"  CPU time of the conversion (all threads of the process): {cpuSeconds:F2} s in {seconds:F2} s wall; " +
            $"peak RSS {peak / 1e9:F2} GB (VmHWM{(peakReset ? ", reset before it" : ", whole process")})");
        return new Conversion(storedBytes, seconds, direct, peak);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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
