using System.Buffers.Binary;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Bench;

/// <summary>
/// Mutation fuzzing of <see cref="SafetensorsReader"/> over an in-memory file: every mutated file must either read
/// completely or be rejected with an <see cref="InvalidDataException"/>; any other exception is a finding.
/// Used by the bench's <c>safetensors-fuzz</c> mode and, compiled into the tests too, by a unit test.
/// </summary>
public static class SafetensorsFuzzer
{
    public sealed record Outcome(int Cases, int Accepted, int Rejected, IReadOnlyList<string> Unexpected, TimeSpan Elapsed)
    {
        public override string ToString() =>
            $"{Cases} cases in {Elapsed.TotalSeconds:F1} s: {Accepted} accepted, {Rejected} rejected with InvalidDataException, {Unexpected.Count} unexpected";
    }

    /// <summary>The fuzzing seed: a small valid file with F32, BF16, F16 and empty tensors and metadata.</summary>
    public static byte[] SeedFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ft5-fuzz-seed-{Guid.NewGuid():N}.safetensors");
        var specs = new List<SafetensorsTensorSpec>
        {
            new("a", SafetensorsDType.F32, [2, 3]),
            new("b", SafetensorsDType.BF16, [4]),
            new("c", SafetensorsDType.F16, [3, 1]),
            new("empty", SafetensorsDType.F32, [0, 5]),
        };
        try
        {
            using (var writer = new SafetensorsWriter(path, specs, new Dictionary<string, string> { ["format"] = "pt" }))
            {
                writer.WriteTensor("a", [1f, -2f, 3.5f, 0f, 1e-3f, 7f]);
                writer.WriteTensor("b", [0.5f, -1f, 2f, 3f]);
                writer.WriteTensor("c", [1f, 2f, -0.25f]);
                writer.WriteTensor("empty", []);
                writer.Complete();
            }
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static Outcome Run(byte[] seed, int cases, int rngSeed)
    {
        var rng = new Random(rngSeed);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int accepted = 0, rejected = 0;
        var unexpected = new List<string>();
        for (int i = 0; i < cases; i++)
        {
            var mutated = Mutate(seed, rng);
            try
            {
                using var reader = SafetensorsReader.FromBytes(mutated, "fuzz");
                foreach (var info in reader.Tensors)
                {
                    if (info.DType.IsFloatingConvertible()) reader.ReadFloat32(info, new float[info.ElementCount]);
                    else reader.ReadBytes(info, new byte[info.ByteLength]);
                }
                accepted++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                unexpected.Add($"case {i}: {e.GetType().Name}: {e.Message} (file: {Convert.ToBase64String(mutated)})");
            }
        }
        return new Outcome(cases, accepted, rejected, unexpected, watch.Elapsed);
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var bytes = (byte[])seed.Clone();
        int headerEnd = (int)Math.Min(8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(seed), seed.Length);
        int rounds = 1 + rng.Next(4);
        for (int r = 0; r < rounds; r++)
        {
            int limit = Math.Min(headerEnd, bytes.Length);
            switch (rng.Next(9))
            {
                case 0: // flip a bit anywhere
                    if (bytes.Length > 0) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // random byte in the header
                    if (limit > 0) bytes[rng.Next(limit)] = (byte)rng.Next(256);
                    break;
                case 2: // a digit in the header becomes another digit (offsets, shapes, lengths)
                {
                    if (limit == 0) break;
                    int p = rng.Next(limit);
                    if (bytes[p] is >= (byte)'0' and <= (byte)'9') bytes[p] = (byte)('0' + rng.Next(10));
                    break;
                }
                case 3: // truncate
                    bytes = bytes[..rng.Next(bytes.Length + 1)];
                    break;
                case 4: // append junk
                    bytes = [.. bytes, .. Enumerable.Range(0, rng.Next(1, 64)).Select(_ => (byte)rng.Next(256))];
                    break;
                case 5: // rewrite the header length
                    if (bytes.Length >= 8)
                    {
                        ulong length = rng.Next(3) switch
                        {
                            0 => (ulong)rng.NextInt64(),
                            1 => (ulong)rng.Next(bytes.Length + 16),
                            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes) + (ulong)rng.Next(-8, 9),
                        };
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
                    }
                    break;
                case 6: // delete a span inside the header
                {
                    if (headerEnd <= 9 || bytes.Length < headerEnd) break;
                    int start = 8 + rng.Next(headerEnd - 8);
                    int count = rng.Next(1, Math.Min(16, headerEnd - start) + 1);
                    bytes = [.. bytes[..start], .. bytes[(start + count)..]];
                    break;
                }
                case 7: // duplicate a span inside the header
                {
                    if (headerEnd <= 9 || bytes.Length < headerEnd) break;
                    int start = 8 + rng.Next(headerEnd - 8);
                    int count = rng.Next(1, Math.Min(32, headerEnd - start) + 1);
                    bytes = [.. bytes[..(start + count)], .. bytes[start..(start + count)], .. bytes[(start + count)..]];
                    break;
                }
                default: // structural tokens swapped in
                {
                    if (limit <= 8) break;
                    byte[] tokens = "{}[],:\"0-9e.".Select(c => (byte)c).ToArray();
                    bytes[8 + rng.Next(limit - 8)] = tokens[rng.Next(tokens.Length)];
                    break;
                }
            }
        }
        return bytes;
    }
}
