namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>The check of SDK-only sources: they may name listed declarations, never the emulator's helpers.</summary>
[TestFixture]
public class CodeConformanceTests
{
    private static SyntheticSdk Sdk()
    {
        var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            namespace poplar_emulator { inline int liveTensors() { return 0; } }
            namespace poplar {
            class Tensor {
            public:
              Tensor();
              unsigned rank() const;
              bool valid() const;
            };
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
            .Row("poplar/Tensor.hpp", "constructor", "poplar::Tensor::Tensor")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::rank", "unsigned int", qualifiers: "const");
        return sdk;
    }

    [Test]
    public void BuilderCodeNamingOnlyListedDeclarationsPasses()
    {
        using var sdk = Sdk();
        sdk.Source("Builder.cpp", """
            #include <poplar/Tensor.hpp>
            unsigned build() { poplar::Tensor t; return t.rank(); }
            """);
        var report = sdk.CheckCode();

        Assert.That(report.Findings, Is.Empty, ReportText.Of(report.Findings));
        Assert.That(report.Files, Is.EqualTo(1));
        Assert.That(report.References, Is.GreaterThanOrEqualTo(3), "Tensor (type), its constructor, rank");
    }

    [Test]
    public void BuilderCodeUsingThePoplarEmulatorNamespaceFails()
    {
        using var sdk = Sdk();
        sdk.Source("Builder.cpp", """
            #include <poplar/Tensor.hpp>
            int build() { return poplar_emulator::liveTensors(); }
            """);
        var report = sdk.CheckCode();

        Assert.That(report.Findings, Is.Not.Empty);
        Assert.That(report.Findings.Select(f => f.Problem), Has.All.Contains("a helper of the emulator"));
        Assert.That(report.Findings[0].Header, Is.EqualTo("Builder.cpp"));
        Assert.That(report.Findings[0].Line, Is.EqualTo(2));
        Assert.That(report.Findings.Select(f => f.Declaration), Has.Some.EqualTo("poplar_emulator::liveTensors"));
    }

    [Test]
    public void BuilderCodeUsingAnUnlistedSdkDeclarationFails()
    {
        using var sdk = Sdk();
        sdk.Source("Builder.cpp", """
            #include <poplar/Tensor.hpp>
            bool build() { poplar::Tensor t; return t.valid(); }
            """);
        var finding = sdk.CheckCode().Findings.Single();

        Assert.That(finding.Problem, Is.EqualTo("uses bool poplar::Tensor::valid() const (poplar/Tensor.hpp), which is not in the list nor the additions"));
        Assert.That(finding.Line, Is.EqualTo(2));
    }

    [Test]
    public void BuilderCodeThatDoesNotCompileAgainstTheEmulatedSdkFails()
    {
        using var sdk = Sdk();
        sdk.Source("Builder.cpp", """
            #include <poplar/Tensor.hpp>
            int build() { poplar::Tensor t; return t.numElements(); }
            """);
        var finding = sdk.CheckCode().Findings.Single();

        Assert.That(finding.Problem, Does.StartWith("does not compile against the emulated SDK").And.Contain("numElements"));
    }
}
