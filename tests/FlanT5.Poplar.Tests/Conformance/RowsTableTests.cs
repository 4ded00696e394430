using FlanT5.SdkConformance;

namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>The markdown table of the implemented API that goes into the closing note.</summary>
[TestFixture]
public class RowsTableTests
{
    [Test]
    public void EachDeclarationShowsItsRowsSourceConfidenceAndHowItDiffers()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            namespace poplar {
            class Tensor {
            public:
              unsigned rank() const;
              bool valid();
              int extra() const;
            };
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor", confidence: "docs")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::rank", "unsigned int", qualifiers: "const", confidence: "dump")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::valid", "bool", qualifiers: "const", confidence: "docs");
        var lines = RowsTable.Write(sdk.Check()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.That(lines[0], Is.EqualTo("| header | qualified name | signature | source | confidence | check |"));
        Assert.That(lines, Has.Length.EqualTo(6));
        Assert.That(lines[3], Is.EqualTo("| poplar/Tensor.hpp | poplar::Tensor::rank | `unsigned int poplar::Tensor::rank() const` | " +
            "https://docs.graphcore.ai/projects/poplar-api/en/latest/example.html | dump | matches |"));
        Assert.That(lines[4], Does.EndWith("| docs | FAIL: is not const, the row's is |"));
        Assert.That(lines[5], Does.Contain("| not in the list | - | FAIL: is not in the list"));
    }
}
