using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Microsoft.Win32.SafeHandles;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A byte range of a file to stream.</summary>
public readonly record struct FileRange(string Path, long Offset, int Length);

/// <summary>How a <see cref="FileRangeStream"/> reads.</summary>
public sealed record FileStreamingOptions
{
    /// <summary>Bytes per read request; each range is split into requests of this size.</summary>
    public int RequestBytes { get; init; } = 8 << 20;

    /// <summary>Read requests in flight at once (a queue depth the disk can overlap).</summary>
    public int ReadsInFlight { get; init; } = 4;

    /// <summary>Range buffers: one held by the consumer, the others filled ahead of it (each is fresh memory, which
    /// costs page faults on first use: two suffice while reading a range is quicker than the work on one).</summary>
    public int Buffers { get; init; } = 3;

    /// <summary>Read with O_DIRECT where the file system allows it (falls back to ordinary reads where not).</summary>
    public bool Direct { get; init; } = true;
}

/// <summary>
/// Reads an ordered list of file ranges ahead of the consumer and hands each out as a span over the buffer it was
/// read into — no copy after the read. Direct mode (Linux, O_DIRECT): the device writes straight into page-aligned
/// buffers, so a multi-GB stream neither copies through nor fills the page cache; the range is widened to the
/// 4 KiB alignment O_DIRECT needs and the span starts at the range's own offset inside it. Reads are split into
/// <see cref="FileStreamingOptions.RequestBytes"/> requests kept <see cref="FileStreamingOptions.ReadsInFlight"/>
/// deep by reader threads; a few reused <see cref="HugePageBuffer"/>s, each as large as the largest range, bound the memory.
/// </summary>
public sealed unsafe class FileRangeStream : IDisposable
{
    /// <summary>O_DIRECT offsets, lengths and buffer addresses are multiples of the logical block size (≤ 4 KiB).</summary>
    private const int Alignment = 4096;

    private readonly IReadOnlyList<FileRange> _ranges;
    private readonly FileStreamingOptions _options;
    private readonly long _bufferBytes;
    private readonly List<HugePageBuffer> _memory = [];
    private readonly BlockingCollection<IntPtr> _free = new();
    private readonly BlockingCollection<PendingRange> _filling = new();
    private readonly BlockingCollection<ReadRequest> _requests;
    private readonly Dictionary<string, (SafeFileHandle Handle, bool Direct)> _handles = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];
    private PendingRange? _current;
    private int _index = -1;
    private bool _disposed;

    /// <summary>Whether every file was opened with O_DIRECT (false: at least one is read through the page cache).</summary>
    public bool AllDirect => _handles.Values.All(h => h.Direct);

    public FileRangeStream(IReadOnlyList<FileRange> ranges, FileStreamingOptions? options = null)
    {
        _ranges = ranges;
        _options = options ?? new FileStreamingOptions();
        if (_options.RequestBytes < Alignment || _options.RequestBytes % Alignment != 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"RequestBytes {_options.RequestBytes} must be a positive multiple of {Alignment}");
        if (_options.ReadsInFlight < 1 || _options.Buffers < 2)
            throw new ArgumentOutOfRangeException(nameof(options), $"ReadsInFlight ({_options.ReadsInFlight}) must be ≥ 1 and Buffers ({_options.Buffers}) ≥ 2");
        foreach (var r in ranges)
        {
            if (r.Offset < 0 || r.Length < 0)
                throw new ArgumentOutOfRangeException(nameof(ranges), $"{r.Path}: range at {r.Offset} of {r.Length} bytes");
        }
        // Bounded to the reads in flight: the planner runs at most that far ahead of the readers.
        _requests = new BlockingCollection<ReadRequest>(_options.ReadsInFlight);
        // Every file is opened up front: a missing one fails here, by name, and AllDirect is known at once.
        foreach (var path in ranges.Select(r => r.Path).Distinct(StringComparer.Ordinal))
        {
            try
            {
                Open(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Dispose();
                throw new IOException($"{path}: cannot open it to stream: {e.Message}", e);
            }
        }
        _bufferBytes = ranges.Count == 0 ? 0 : ranges.Max(r => AlignUp(r.Offset + r.Length) - AlignDown(r.Offset));
        try
        {
            for (int i = 0; i < Math.Min(_options.Buffers, ranges.Count); i++)
            {
                var block = new HugePageBuffer(_bufferBytes);
                _memory.Add(block);
                _free.Add(block.Address);
            }
            Start(Plan, "range planner");
            for (int i = 0; i < _options.ReadsInFlight; i++) Start(ReadRequests, "range reader");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Bytes allocated for buffers (they become resident as they are filled).</summary>
    public long BufferBytes => _memory.Sum(m => m.Length);

    /// <summary>The range <see cref="Current"/> holds.</summary>
    public FileRange CurrentRange => _index >= 0 && _index < _ranges.Count ? _ranges[_index] : throw new InvalidOperationException("no current range");

    /// <summary>The bytes of the current range; valid until the next <see cref="MoveNext"/> or <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Current => _current is { } c
        ? new ReadOnlySpan<byte>((byte*)c.Buffer + c.Skip, c.Range.Length)
        : throw new InvalidOperationException("no current range");

    /// <summary>Waits for the next range to be read (the previous one's buffer is reused); false after the last.</summary>
    public bool MoveNext()
    {
        if (_current is { } previous)
        {
            _current = null;
            _free.Add(previous.Buffer);
        }
        if (_index >= _ranges.Count) return false;
        _index++;
        if (!_filling.TryTake(out var next, Timeout.Infinite, _stop.Token))
        {
            _index = _ranges.Count;
            return false;
        }
        // Not disposed afterwards: the reader that set it may still be inside Set (it holds no kernel handle).
        next.Done.Wait(_stop.Token);
        _current = next;
        if (next.Error is { } error)
        {
            if (error is IOException or UnauthorizedAccessException)
                throw new IOException($"{next.Range.Path}: reading bytes [{next.Range.Offset}, {next.Range.Offset + next.Range.Length}) failed: {error.Message}", error);
            ExceptionDispatchInfo.Capture(error).Throw();
        }
        return true;
    }

    /// <summary>Takes a buffer per range in order and splits the range into read requests.</summary>
    private void Plan()
    {
        try
        {
            foreach (var range in _ranges)
            {
                var buffer = _free.Take(_stop.Token);
                var pending = new PendingRange(range, buffer);
                var file = _handles[range.Path];
                long start = file.Direct ? AlignDown(range.Offset) : range.Offset;
                long end = file.Direct ? AlignUp(range.Offset + range.Length) : range.Offset + range.Length;
                pending.Skip = range.Offset - start;
                // Requests end on multiples of RequestBytes in the file, as a plain sequential read's do: the device
                // (and a host's cache behind a virtual disk) then sees the same aligned requests, whatever the ranges.
                long size = _options.RequestBytes;
                int requests = start == end ? 0 : (int)((end - 1) / size - start / size + 1);
                pending.Remaining = Math.Max(requests, 1);
                _filling.Add(pending, _stop.Token);
                if (requests == 0) pending.Finish(null);
                for (long at = start, next; at < end; at = next)
                {
                    next = Math.Min(end, (at / size + 1) * size);
                    _requests.Add(new ReadRequest(pending, file.Handle, file.Direct, at, (int)(next - at), at - start), _stop.Token);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _requests.CompleteAdding();
            _filling.CompleteAdding();
        }
    }

    private void ReadRequests()
    {
        try
        {
            foreach (var request in _requests.GetConsumingEnumerable(_stop.Token))
            {
                Exception? error = null;
                try
                {
                    if (request.Range.Error is null) Read(request);
                }
                catch (Exception e)
                {
                    error = e;
                }
                request.Range.Finish(error);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Read(ReadRequest request)
    {
        var destination = new Span<byte>((byte*)request.Range.Buffer + request.BufferOffset, request.Length);
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(request.Handle, destination[done..], request.FileOffset + done);
            done += n;
            // End of file; with O_DIRECT a short read ends unaligned and the next one would be refused (EINVAL).
            if (n <= 0 || (request.Direct && n % Alignment != 0)) break;
        }
        // Only the range's own bytes must exist; alignment padding past the end of the file need not.
        long needed = Math.Min(request.FileOffset + request.Length, request.Range.Range.Offset + request.Range.Range.Length) - request.FileOffset;
        if (done < needed)
            throw new EndOfStreamException($"the file ends at byte {request.FileOffset + done}, inside the range");
    }

    private void Open(string path)
    {
        if (_handles.ContainsKey(path)) return;
        var direct = _options.Direct ? FileSystemSync.TryOpenDirect(path) : null;
        _handles[path] = direct is not null
            ? (direct, true)
            : (File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan), false);
    }

    private void Start(Action body, string name)
    {
        var thread = new Thread(() => body()) { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    private static long AlignDown(long offset) => offset / Alignment * Alignment;
    private static long AlignUp(long offset) => (offset + Alignment - 1) / Alignment * Alignment;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        // The buffers are freed only after every reader thread is gone: none may still write into them.
        foreach (var thread in _threads) thread.Join();
        foreach (var (handle, _) in _handles.Values) handle.Dispose();
        _handles.Clear();
        foreach (var block in _memory) block.Dispose();
        _memory.Clear();
        _current = null;
        _free.Dispose();
        _filling.Dispose();
        _requests.Dispose();
        _stop.Dispose();
    }

    /// <summary>A range being read: its buffer, where the range starts in it, and the requests still out.</summary>
    private sealed class PendingRange(FileRange range, IntPtr buffer)
    {
        private Exception? _error;
        public FileRange Range { get; } = range;
        public IntPtr Buffer { get; } = buffer;
        public long Skip { get; set; }
        public int Remaining;
        public ManualResetEventSlim Done { get; } = new();
        public Exception? Error => Volatile.Read(ref _error);

        public void Finish(Exception? error)
        {
            if (error is not null) Interlocked.CompareExchange(ref _error, error, null);
            if (Interlocked.Decrement(ref Remaining) == 0) Done.Set();
        }
    }

    private readonly record struct ReadRequest(PendingRange Range, SafeFileHandle Handle, bool Direct, long FileOffset, int Length, long BufferOffset);
}
