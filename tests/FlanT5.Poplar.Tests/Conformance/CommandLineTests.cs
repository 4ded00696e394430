using FlanT5.Poplar.Tests.Packaging;

namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>The tool as the emulator's authors run it: a report on stdout and an exit code that says pass or fail.</summary>
[TestFixture]
public class CommandLineTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private static ChildProcess.Result Tool(string workingDirectory, params string[] arguments) =>
        ChildProcess.Run(ChildProcess.Dotnet,
            [Path.Combine(TestContext.CurrentContext.TestDirectory, "FlanT5.SdkConformance.dll"), .. arguments],
            workingDirectory, new Dictionary<string, string>(), Limit);

    [Test]
    public void HeadersExitsOneWithAReportLinePerFailureAndZeroWhenClean()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            namespace poplar {
            class Tensor {
            public:
              unsigned rank() const;
            };
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor");
        var lists = sdk.ListFiles();

        var failing = Tool(sdk.Root, ["headers", "--include", sdk.Include, "--list", .. lists]);
        Assert.That(failing.ExitCode, Is.EqualTo(1), failing.Describe("headers"));
        Assert.That(failing.Output, Does.Contain("poplar/Tensor.hpp:5: FAIL unsigned int poplar::Tensor::rank() const: is not in the list"));
        Assert.That(failing.Output, Does.Contain("2 declarations in 1 headers").And.Contain("1 failure(s), 0 warning(s)"));

        File.AppendAllText(lists[1], string.Join('\t', "poplar/Tensor.hpp", "method", "poplar::Tensor::rank", "unsigned int", "",
            "const", "IPUToolkit-dump@0270e586:deps/wrapper/gen_inline.cpp:1673", "dump") + "\n");
        var clean = Tool(sdk.Root, ["headers", "--include", sdk.Include, "--list", .. lists]);
        Assert.That(clean.ExitCode, Is.Zero, clean.Describe("headers"));
    }

    [Test]
    public void BadArgumentsExitTwoWithTheUsage()
    {
        using var temp = new Interop.TempDirectory();
        var missing = Tool(temp.Path, "headers", "--include", Path.Combine(temp.Path, "nowhere"), "--list", Path.Combine(temp.Path, "none.tsv"));
        Assert.That(missing.ExitCode, Is.EqualTo(2), missing.Describe("headers"));
        Assert.That(missing.Error, Does.Contain("none.tsv"));

        var usage = Tool(temp.Path, "headers");
        Assert.That(usage.ExitCode, Is.EqualTo(2));
        Assert.That(usage.Error, Does.Contain("usage:"));
    }
}
