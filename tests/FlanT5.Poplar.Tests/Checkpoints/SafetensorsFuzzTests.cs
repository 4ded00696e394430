using System.Buffers.Binary;
using FlanT5.Poplar.Bench;
using FlanT5.Poplar.Checkpoints;

namespace FlanT5.Poplar.Tests.Checkpoints;

/// <summary>Random mutations of a valid file: the reader must answer with InvalidDataException or succeed, never crash or hang.</summary>
public class SafetensorsFuzzTests
{
    [Test]
    public void HundredThousandMutationsGiveOnlyTypedErrors()
    {
        var seed = CheckpointTestFiles.SmallValidFile();
        var outcome = SafetensorsFuzzer.Run(seed, cases: 100_000, rngSeed: 12345);
        TestContext.Out.WriteLine(outcome.ToString());
        Assert.That(outcome.Unexpected, Is.Empty, string.Join("\n", outcome.Unexpected.Take(5)));
        Assert.That(outcome.Rejected, Is.GreaterThan(10_000), "mutations must reach the validation paths");
        Assert.That(outcome.Accepted, Is.GreaterThan(1_000), "some mutations (data bytes) stay valid");
    }
}
