namespace FlanT5.Poplar.Bench;

/// <summary>The full fuzz run: a seed file with F32/BF16/F16 and empty tensors, N random mutations.</summary>
internal static class SafetensorsFuzzMode
{
    public static int Run(BenchOptions options)
    {
        var seed = SafetensorsFuzzer.SeedFile();
        var outcome = SafetensorsFuzzer.Run(seed, options.Int("cases", 100_000), options.Int("seed", 1));
        Console.WriteLine(outcome);
        foreach (var line in outcome.Unexpected.Take(10)) Console.WriteLine(line);
        return outcome.Unexpected.Count == 0 ? 0 : 1;
    }
}
