using System.Runtime.InteropServices;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Cli.Parity;

/// <summary>A reference file of the fixture format (safetensors with I64 ids and F64/F32 values), read by name.</summary>
public sealed class ReferenceTensors : IDisposable
{
    private readonly SafetensorsReader _reader;

    public ReferenceTensors(string path)
    {
        _reader = SafetensorsReader.Open(path);
        Path = path;
    }

    public string Path { get; }

    public bool Has(string name) => _reader.Contains(name);

    public IEnumerable<string> Names => _reader.Tensors.Select(t => t.Name);

    public int[] Shape(string name) => _reader.Get(name).Shape;

    /// <summary>Integer tensor as int32 (ids and masks; I64 or I32 in the file).</summary>
    public int[] Ints(string name)
    {
        var info = _reader.Get(name);
        var bytes = new byte[info.ByteLength];
        _reader.ReadBytes(info, bytes);
        return info.DType switch
        {
            SafetensorsDType.I64 => MemoryMarshal.Cast<byte, long>(bytes).ToArray().Select(v => checked((int)v)).ToArray(),
            SafetensorsDType.I32 => MemoryMarshal.Cast<byte, int>(bytes).ToArray(),
            _ => throw new InvalidDataException($"{Path}: tensor '{name}' is {info.DType}; expected I64 or I32 ids"),
        };
    }

    /// <summary>Floating tensor as float64 (F64 exactly; F32/F16/BF16 widened).</summary>
    public double[] Doubles(string name)
    {
        var info = _reader.Get(name);
        if (info.DType == SafetensorsDType.F64)
        {
            var bytes = new byte[info.ByteLength];
            _reader.ReadBytes(info, bytes);
            return MemoryMarshal.Cast<byte, double>(bytes).ToArray();
        }
        return _reader.ReadFloat32(name).Select(v => (double)v).ToArray();
    }

    public void Dispose() => _reader.Dispose();
}
