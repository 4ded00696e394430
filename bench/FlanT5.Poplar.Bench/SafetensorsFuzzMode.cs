using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Bench;

/// <summary>The full fuzz run: a seed file with F32/BF16/F16 and empty tensors, N random mutations.</summary>
internal static class SafetensorsFuzzMode
{
    public static int Run(BenchOptions options)
    {
        var path = Path.Combine(Path.GetTempPath(), $"ft5-fuzz-seed-{Guid.NewGuid():N}.safetensors");
        var specs = new List<SafetensorsTensorSpec>
        {
            new("a", SafetensorsDType.F32, [2, 3]),
            new("b", SafetensorsDType.BF16, [4]),
            new("c", SafetensorsDType.F16, [3, 1]),
            new("empty", SafetensorsDType.F32, [0, 5]),
        };
        using (var writer = new SafetensorsWriter(path, specs, new Dictionary<string, string> { ["format"] = "pt" }))
        {
            writer.WriteTensor("a", [1f, -2f, 3.5f, 0f, 1e-3f, 7f]);
            writer.WriteTensor("b", [0.5f, -1f, 2f, 3f]);
            writer.WriteTensor("c", [1f, 2f, -0.25f]);
            writer.WriteTensor("empty", []);
            writer.Complete();
        }
        var seed = File.ReadAllBytes(path);
        File.Delete(path);
        var outcome = SafetensorsFuzzer.Run(seed, options.Int("cases", 100_000), options.Int("seed", 1));
        Console.WriteLine(outcome);
        foreach (var line in outcome.Unexpected.Take(10)) Console.WriteLine(line);
        return outcome.Unexpected.Count == 0 ? 0 : 1;
    }
}
