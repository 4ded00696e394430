using System.Diagnostics;
using FlanT5.Poplar.Checkpoints;
using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// Streams a Hugging Face checkpoint through the tensor-parallel device layout and back, one tensor at a time:
/// read (mmap; bf16/fp16 kept as stored, other dtypes widened to fp32) → shard into tp buffers (vocab padded) → unshard → compare bit-for-bit with what was
/// read; with --output, the round-tripped tensors are exported (bf16) as they stream. Reports peak RSS and the
/// throughput against the disk's sequential read speed, both measured cold (pages dropped with posix_fadvise).
/// </summary>
internal static class CheckpointStreamMode
{
    public static int Run(BenchOptions options)
    {
        var dir = options.Require("dir");
        int tp = options.Int("tp", 8);
        var output = options.Get("output");
        var files = Directory.GetFiles(dir, "*.safetensors").Order().ToList();
        long fileBytes = files.Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"{dir}: {files.Count} safetensors file(s), {fileBytes / 1e9:F2} GB; tensor parallel {tp}; {Environment.ProcessorCount} CPUs");

        bool dropCachesAllowed = TryDropCaches();
        Console.WriteLine($"/proc/sys/vm/drop_caches: {(dropCachesAllowed ? "written (all caches dropped)" : "not permitted; dropping each file's pages with posix_fadvise(DONTNEED) instead")}");
        DropFromPageCache(files);
        var read = Stopwatch.StartNew();
        long readBytes = SequentialRead(files);
        double readSeconds = read.Elapsed.TotalSeconds;
        double diskSpeed = readBytes / readSeconds;
        Console.WriteLine($"sequential read (16 MiB buffer, cold): {readBytes / 1e9:F2} GB in {readSeconds:F2} s = {diskSpeed / 1e9:F3} GB/s");
        DropFromPageCache(files);
        bool peakReset = ResetPeakRss();

        var watch = Stopwatch.StartNew();
        long storedBytes;
        int tensors;
        using (var checkpoint = HfCheckpointLoader.Open(dir))
        {
            TensorParallelSharder.Validate(checkpoint.Map, tp);
            var roundTrip = new TensorParallelRoundTrip(checkpoint, tp);
            if (output is not null)
            {
                HfCheckpointExporter.Export(roundTrip, output, new HfExportOptions { DType = SafetensorsDType.BF16 });
            }
            else if (roundTrip.StoredInTwoBytes())
            {
                roundTrip.RunPipelined<ushort>(stored: true); // bf16/fp16 as stored: the layout change needs no widening
            }
            else
            {
                roundTrip.RunPipelined<float>(stored: false);
            }
            storedBytes = checkpoint.Tensors.Sum(t => checkpoint.Files.Info(checkpoint.FileKey(t.Name)).ByteLength);
            tensors = roundTrip.Verified;
            Console.WriteLine($"layout {checkpoint.Layout}, {checkpoint.Files.ListedButAbsent.Count} index aliases absent from the files; " +
                $"{tensors} tensors round-tripped through TP{tp} bit-exact; largest shard buffer set {roundTrip.LargestShardBytes / 1e6:F0} MB");
            Console.WriteLine($"time: read{(roundTrip.Widened ? "+widen" : " (stored dtype)")} {roundTrip.ReadSeconds:F2} s (reader thread), shard+unshard+compare {roundTrip.ShardSeconds:F2} s");
        }
        double seconds = watch.Elapsed.TotalSeconds;
        double throughput = storedBytes / seconds;
        long peak = ProcessMemory.PeakResidentBytes();
        Console.WriteLine($"HF → TP{tp} → HF{(output is null ? "" : " → export " + output)}: {storedBytes / 1e9:F2} GB in {seconds:F2} s = {throughput / 1e9:F3} GB/s " +
            $"= {throughput / diskSpeed:F2} × sequential read");
        Console.WriteLine($"peak RSS during the conversion: {peak / 1e9:F2} GB (VmHWM{(peakReset ? ", reset before it" : ", whole process")})");
        bool ok = peak <= 2_000_000_000 && throughput >= 0.7 * diskSpeed;
        Console.WriteLine(ok ? "targets met (peak RSS ≤ 2 GB, throughput ≥ 0.7 × sequential read)" : "TARGETS NOT MET");
        return ok ? 0 : 1;
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

    private static long SequentialRead(IEnumerable<string> files)
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

    /// <summary>Reads through the device layout: each tensor is sharded, joined back and checked before it is handed on.</summary>
    private sealed class TensorParallelRoundTrip(HfCheckpoint checkpoint, int tp) : IModelTensorSource
    {
        private readonly Dictionary<string, int> _position = checkpoint.Tensors.Select((t, i) => (t.Name, i)).ToDictionary(p => p.Name, p => p.i);
        private float[] _original = [];
        private float[][] _shards = [];

        public int Verified { get; private set; }
        public double ReadSeconds { get; private set; }
        public double ShardSeconds { get; private set; }
        public long LargestShardBytes { get; private set; }
        public T5ModelConfig Config => checkpoint.Config;
        public EmbeddingLayout Layout => checkpoint.Layout;
        public IReadOnlyList<TensorEntry> Tensors => checkpoint.Tensors;

        public bool Widened { get; private set; } = true;

        /// <summary>True when every tensor is stored in a 2-byte dtype (bf16 or fp16) and can travel as stored.</summary>
        public bool StoredInTwoBytes() => Tensors.All(t =>
            checkpoint.Files.Info(checkpoint.FileKey(t.Name)).DType is SafetensorsDType.BF16 or SafetensorsDType.F16);

        /// <summary>
        /// Reads on one thread while the previous tensor is sharded and checked on another (two read buffers), so
        /// the disk never waits for the CPU work. <paramref name="stored"/>: the raw stored elements (T of their size)
        /// instead of fp32.
        /// </summary>
        public void RunPipelined<T>(bool stored) where T : unmanaged
        {
            Widened = !stored;
            int largest = checked((int)Tensors.Max(t => t.ElementCount));
            using var free = new System.Collections.Concurrent.BlockingCollection<T[]> { new T[largest], new T[largest] };
            using var ready = new System.Collections.Concurrent.BlockingCollection<(TensorEntry Tensor, T[] Values)>(boundedCapacity: 1);
            var handles = new Dictionary<string, Microsoft.Win32.SafeHandles.SafeFileHandle>(StringComparer.Ordinal);
            var reader = Task.Run(() =>
            {
                try
                {
                    foreach (var t in Tensors)
                    {
                        var buffer = free.Take();
                        long t0 = Stopwatch.GetTimestamp();
                        var span = buffer.AsSpan(0, (int)t.ElementCount);
                        if (stored)
                        {
                            // pread of the tensor's byte range: sequential on disk, no page-fault per 4 KiB as with the map.
                            checkpoint.Files.TryGet(checkpoint.FileKey(t.Name), out var file, out var info);
                            if (!handles.TryGetValue(file.Path, out var handle))
                                handles[file.Path] = handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
                            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(span);
                            long offset = file.Header.DataOffset + info.Begin;
                            for (int done = 0; done < bytes.Length;)
                            {
                                int n = RandomAccess.Read(handle, bytes[done..], offset + done);
                                if (n <= 0) throw new EndOfStreamException($"{file.Path}: '{t.Name}' ends early");
                                done += n;
                            }
                        }
                        else
                        {
                            checkpoint.ReadTensor(t.Name, System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(span));
                        }
                        ReadSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                        ready.Add((t, buffer));
                    }
                }
                finally
                {
                    ready.CompleteAdding();
                    foreach (var handle in handles.Values) handle.Dispose();
                }
            });
            var destination = new T[largest];
            T[][] shards = [];
            foreach (var (t, values) in ready.GetConsumingEnumerable())
            {
                int n = (int)t.ElementCount;
                RoundTrip<T>(t.Name, values.AsSpan(0, n), destination.AsSpan(0, n), ref shards);
                free.Add(values);
            }
            reader.GetAwaiter().GetResult();
        }

        public void ReadTensor(string name, Span<float> destination)
        {
            // Let the kernel read the next tensors while this one is converted.
            int position = _position[name];
            for (int ahead = 1; ahead <= 2 && position + ahead < Tensors.Count; ahead++) checkpoint.Prefetch(Tensors[position + ahead].Name);

            int n = destination.Length;
            if (_original.Length < n) _original = new float[n];
            var original = _original.AsSpan(0, n);
            long t0 = Stopwatch.GetTimestamp();
            checkpoint.ReadTensor(name, original);
            ReadSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
            RoundTrip(name, original, destination, ref _shards);
        }

        private void RoundTrip<T>(string name, Span<T> original, Span<T> destination, ref T[][] shards) where T : unmanaged
        {
            int n = original.Length;
            if (!checkpoint.Map.TryGet(name, out var spec))
            {
                original.CopyTo(destination); // export-only tensors never reach the device
                return;
            }
            int shardElements = (int)ShapeMath.ElementCount(TensorParallelSharder.ShardShape(spec, tp));
            if (shards.Length == 0 || shards[0].Length < shardElements)
                shards = Enumerable.Range(0, tp).Select(_ => new T[shardElements]).ToArray();
            LargestShardBytes = Math.Max(LargestShardBytes, (long)System.Runtime.CompilerServices.Unsafe.SizeOf<T>() * shardElements * tp);
            long t1 = Stopwatch.GetTimestamp();
            for (int rank = 0; rank < tp; rank++)
                TensorParallelSharder.Shard<T>(spec, tp, original, rank, shards[rank].AsSpan(0, shardElements));
            // Join each rank back and compare the rows it wrote while they are still in cache.
            int dim = spec.ShardDim < 0 ? 1 : spec.Shape[spec.ShardDim];
            long outer = spec.ShardDim < 0 ? 1 : ShapeMath.ElementCount(spec.Shape.AsSpan(0, spec.ShardDim));
            int inner = spec.ShardDim < 0 ? n : (int)ShapeMath.ElementCount(spec.Shape.AsSpan(spec.ShardDim + 1));
            int perRank = spec.ShardDim < 0 ? 1 : TensorParallelSharder.PaddedDim(spec, tp) / tp;
            for (int rank = 0; rank < tp; rank++)
            {
                TensorParallelSharder.Unshard<T>(spec, tp, rank, shards[rank].AsSpan(0, shardElements), destination);
                if (spec.ShardDim < 0 && rank > 0) continue;
                int first = spec.ShardDim < 0 ? 0 : rank * perRank;
                int valid = spec.ShardDim < 0 ? 1 : Math.Clamp(dim - first, 0, perRank);
                for (long o = 0; o < outer; o++)
                {
                    int start = (int)((o * dim + first) * inner);
                    var back = System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination.Slice(start, valid * inner));
                    var read = System.Runtime.InteropServices.MemoryMarshal.AsBytes(original.Slice(start, valid * inner));
                    if (!back.SequenceEqual(read)) throw new InvalidDataException($"'{name}' changed in the round trip through TP{tp} (rank {rank})");
                }
            }
            ShardSeconds += Stopwatch.GetElapsedTime(t1).TotalSeconds;
            Verified++;
        }
    }
}
