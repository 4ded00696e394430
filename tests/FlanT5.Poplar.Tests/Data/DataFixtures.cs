using System.Buffers.Binary;
using System.Text.Json;

namespace FlanT5.Poplar.Tests.Data;

internal static class DataFixtures
{
    public static string Root => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures");
    public static string SyntheticMnli => Path.Combine(Root, "synthetic-mnli");

    /// <summary>A fresh temporary folder, removed by the caller.</summary>
    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "flant5-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>An I64 tensor of a safetensors file as int rows (enough for the reference batches).</summary>
    public static int[][] ReadInt64Tensor(string path, string name)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var entry = header.RootElement.GetProperty(name);
        Assert.That(entry.GetProperty("dtype").GetString(), Is.EqualTo("I64"));
        var shape = entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        long begin = entry.GetProperty("data_offsets")[0].GetInt64() + 8 + headerLength;
        var rows = new int[shape[0]][];
        for (int r = 0; r < shape[0]; r++)
        {
            rows[r] = new int[shape[1]];
            for (int c = 0; c < shape[1]; c++)
                rows[r][c] = checked((int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)begin + 8 * (r * shape[1] + c))));
        }
        return rows;
    }
}
