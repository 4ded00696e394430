using FlanT5.Poplar.Training;

namespace FlanT5.Poplar.Tests.Packaging;

/// <summary>The FlanT5.Poplar package holds the runtime, not the project's tools.</summary>
public class RuntimeAssemblyTests
{
    [Test]
    public void RuntimeAssemblyHoldsNoBenchmarkFuzzerOrParityCode()
    {
        // The benchmarks live in bench/ (flant5 bench uses them from the tool), the fuzzer in the bench, parity in the CLI.
        var types = typeof(T5Trainer).Assembly.GetTypes().Select(t => t.FullName!).ToList();
        Assert.That(types, Is.Not.Empty);
        Assert.That(types.Where(t => t.Contains("Benchmark") || t.Contains("Fuzz") || t.Contains(".Parity.")), Is.Empty);
    }
}
