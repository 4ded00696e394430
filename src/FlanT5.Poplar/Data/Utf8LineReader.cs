using System.Text;

namespace FlanT5.Poplar.Data;

/// <summary>
/// Reads a file line by line as raw UTF-8 bytes (so a reader can report invalid UTF-8 for the exact line), strips a
/// BOM and '\r', and counts lines from 1. The span returned by <see cref="TryReadLine"/> is valid until the next call.
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Stream _stream;
    private byte[] _buffer = new byte[1 << 16];
    private int _start, _end;
    private bool _eof, _first = true;

    public Utf8LineReader(string path)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    public int LineNumber { get; private set; }

    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int nl = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                line = Take(nl, 1);
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    line = Take(_end - _start, 0);
                    return true;
                }
                line = default;
                return false;
            }
            Fill();
        }
    }

    /// <summary>Decodes a line strictly: invalid UTF-8 throws <see cref="DecoderFallbackException"/>.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes) => Strict.GetString(bytes);

    private ReadOnlySpan<byte> Take(int length, int terminator)
    {
        var line = _buffer.AsSpan(_start, length);
        _start += length + terminator;
        LineNumber++;
        if (_first)
        {
            _first = false;
            if (line.StartsWith("\uFEFF"u8)) line = line[3..];
        }
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        return line;
    }

    private void Fill()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
            Array.Resize(ref _buffer, _buffer.Length * 2);
        int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) _eof = true;
        _end += n;
    }

    public void Dispose() => _stream.Dispose();
}
