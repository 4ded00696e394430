using System.Buffers.Binary;
using System.IO.Hashing;
using MessagePack;
using MessagePack.Resolvers;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>manifest.msgpack of a training checkpoint: the scalar state and a checksum per stored tensor.</summary>
[MessagePackObject]
public sealed class TrainingCheckpointManifest
{
    public const int CurrentFormat = 1;
    public const string FileName = "manifest.msgpack";

    [Key(0)] public int Format { get; set; } = CurrentFormat;
    [Key(1)] public long Step { get; set; }
    [Key(2)] public long SchedulePosition { get; set; }
    [Key(3)] public double LossScale { get; set; }
    [Key(4)] public byte[] DataCursor { get; set; } = [];
    [Key(5)] public byte[] RngState { get; set; } = [];
    [Key(6)] public string Plan { get; set; } = "";
    [Key(7)] public string RunConfig { get; set; } = "";
    /// <summary>config.json of the model (T5ModelConfig.ToHfJson).</summary>
    [Key(8)] public string ModelConfigJson { get; set; } = "";
    [Key(9)] public string Layout { get; set; } = "";
    [Key(10)] public List<TrainingCheckpointFile> Files { get; set; } = [];
    [Key(11)] public string SavedAtUtc { get; set; } = "";

    private static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard
        .WithResolver(StandardResolver.Instance).WithSecurity(MessagePackSecurity.UntrustedData);

    /// <summary>The MessagePack payload followed by its XxHash64, so a torn or damaged manifest is detected.</summary>
    public byte[] ToBytes()
    {
        var payload = MessagePackSerializer.Serialize(this, Options);
        var bytes = new byte[payload.Length + 8];
        payload.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(payload.Length), XxHash64.HashToUInt64(payload));
        return bytes;
    }

    public static TrainingCheckpointManifest FromBytes(byte[] bytes, string source)
    {
        if (bytes.Length < 9) throw new InvalidDataException($"{source}: manifest is truncated ({bytes.Length} bytes)");
        var payload = bytes.AsMemory(0, bytes.Length - 8);
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8));
        if (XxHash64.HashToUInt64(payload.Span) != stored)
            throw new InvalidDataException($"{source}: manifest checksum mismatch (the file is damaged or truncated)");
        try
        {
            var manifest = MessagePackSerializer.Deserialize<TrainingCheckpointManifest>(payload, Options);
            if (manifest.Format != CurrentFormat)
                throw new InvalidDataException($"{source}: manifest format {manifest.Format} is not supported (expected {CurrentFormat})");
            return manifest;
        }
        catch (MessagePackSerializationException e)
        {
            throw new InvalidDataException($"{source}: manifest is not valid MessagePack: {e.Message}", e);
        }
    }
}

[MessagePackObject]
public sealed class TrainingCheckpointFile
{
    [Key(0)] public string Name { get; set; } = "";
    [Key(1)] public long Length { get; set; }
    [Key(2)] public List<TrainingCheckpointTensor> Tensors { get; set; } = [];
}

[MessagePackObject]
public sealed class TrainingCheckpointTensor
{
    [Key(0)] public string Name { get; set; } = "";
    [Key(1)] public int[] Shape { get; set; } = [];
    /// <summary>XxHash64 of the tensor's stored bytes.</summary>
    [Key(2)] public ulong XxHash64 { get; set; }
}
