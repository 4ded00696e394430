using FlanT5.Poplar.Tests.Interop;
using FlanT5.SdkConformance;

namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>Where the emulated SDK and the committed signature lists are.</summary>
internal static class EmulatedSdkPaths
{
    public static string Include => Path.Combine(RepositoryPaths.Root, "native", "emulator", "include");

    public static IReadOnlyList<string> Lists =>
    [
        Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "poplar-api", "signatures.tsv"),
        Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "poplar-api", "additions.tsv"),
    ];
}

/// <summary>The repository's emulated SDK headers, and the code that must use only the SDK, against the list.</summary>
[TestFixture]
public class EmulatedSdkConformanceTests
{
    [Test]
    public void EveryDeclarationOfTheEmulatedHeadersMatchesTheList()
    {
        Assert.That(Directory.Exists(EmulatedSdkPaths.Include), Is.True,
            $"the emulated SDK headers are missing: {EmulatedSdkPaths.Include}");
        var rows = SignatureList.Read(EmulatedSdkPaths.Lists);
        var report = ConformanceChecker.Check(HeaderScanner.Scan(EmulatedSdkPaths.Include, ConformanceChecker.ProbeTypes(rows)), rows);

        Assert.That(report.Declarations, Is.Not.Empty);
        Assert.That(report.Failures, Is.Zero,
            $"{report.Failures} failure(s) in {report.Declarations.Count} declarations:\n" +
            ReportText.Of(report.Findings.Where(f => f.Severity == Severity.Failure)));
    }

    // Sources that must compile against the real SDK as well: the folder, and the root its own includes are relative to.
    // The session (C++20, host side of the ABI) is compiled here as C++17, as the SDK's own headers are.
    [TestCase("native/src/t5", "native/src")]
    [TestCase("native/src/session", "native/src;native/include")]
    public void TheBuilderUsesOnlyListedDeclarations(string folder, string includeRoots)
    {
        var sources = Path.Combine(RepositoryPaths.Root, folder);
        Assert.That(Directory.Exists(sources), Is.True, $"no builder sources at {sources}");
        var rows = SignatureList.Read(EmulatedSdkPaths.Lists);
        var scan = HeaderScanner.Scan(EmulatedSdkPaths.Include, ConformanceChecker.ProbeTypes(rows),
            otherIncludes: [.. includeRoots.Split(';').Select(root => Path.Combine(RepositoryPaths.Root, root))]);
        var report = CodeChecker.Check(sources, scan, ConformanceChecker.Check(scan, rows), null);

        Assert.That(report.Files, Is.Positive);
        Assert.That(report.Findings, Is.Empty, ReportText.Of(report.Findings));
    }
}
