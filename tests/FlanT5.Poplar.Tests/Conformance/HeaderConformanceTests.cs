using FlanT5.SdkConformance;

namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>The header check on small synthetic SDKs: each kind of difference from a row is caught and named.</summary>
[TestFixture]
public class HeaderConformanceTests
{
    private const string Zero = "popops/Zero.hpp";

    // popops::zero as poplibs declares it, with what differs from the row spliced in by each test.
    private static SyntheticSdk ZeroSdk(string parameters, string rowParameters, string confidence = "header",
        string header = Zero)
    {
        var sdk = new SyntheticSdk();
        sdk.Header("poplar/Graph.hpp", """
            #pragma once
            #include <cstddef>
            namespace poplar {
            class Tensor {};
            class Graph {};
            namespace program { class Sequence {}; }
            }
            """);
        sdk.Header(header, $$"""
            #pragma once
            #include <poplar/Graph.hpp>
            namespace popops {
            void zero({{parameters}});
            }
            """);
        sdk.Row("poplar/Graph.hpp", "class", "poplar::Tensor", confidence: "docs")
            .Row("poplar/Graph.hpp", "class", "poplar::Graph", confidence: "docs")
            .Row("poplar/Graph.hpp", "class", "poplar::program::Sequence", confidence: "docs")
            .Row(Zero, "function", "popops::zero", "void", rowParameters, confidence: confidence);
        return sdk;
    }

    private const string ZeroRow = "poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t = 0";

    [Test]
    public void AMatchingDeclarationPasses()
    {
        // Spelling differs where C++ does not: unqualified names, `unsigned`, size_t for std::size_t, spaces.
        using var sdk = ZeroSdk("poplar::Graph& g, const poplar::Tensor &t, unsigned tile, size_t n = 0", ZeroRow);
        var report = sdk.Check();

        Assert.That(report.Findings, Is.Empty, ReportText.Of(report.Findings));
        Assert.That(report.Declarations.Select(d => d.QualifiedName),
            Is.EquivalentTo(new[] { "poplar::Tensor", "poplar::Graph", "poplar::program::Sequence", "popops::zero" }));
        Assert.That(report.Matches.Count, Is.EqualTo(4));
    }

    [Test]
    public void AWrongParameterTypeFails()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, float, std::size_t = 0", ZeroRow);
        var finding = SingleFailure(sdk.Check());

        Assert.That(finding.Problem, Is.EqualTo("parameter 3 is `float`, the row says `unsigned int`"));
        Assert.That(finding.Header, Is.EqualTo(Zero));
        Assert.That(finding.Line, Is.EqualTo(4));
        Assert.That(finding.Row!.Line, Is.EqualTo(5), "the report names the row it compared with");
    }

    [Test]
    public void ParametersInAnotherOrderFail()
    {
        using var sdk = ZeroSdk("poplar::Graph &, unsigned int, const poplar::Tensor &, std::size_t = 0", ZeroRow);
        var finding = SingleFailure(sdk.Check());

        Assert.That(finding.Problem, Does.StartWith("has its parameters in another order: (poplar::Graph &, unsigned int, const poplar::Tensor &"));
    }

    [Test]
    public void AMissingDefaultFails()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t", ZeroRow);

        Assert.That(SingleFailure(sdk.Check()).Problem, Is.EqualTo("parameter 4 has no default, the row shows = 0"));
    }

    [Test]
    public void AWrongTypeDoesNotHideAMissingDefault()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, float, std::size_t", ZeroRow);

        Assert.That(sdk.Check().Findings.Select(f => f.Problem), Is.EqualTo(new[]
        {
            "parameter 3 is `float`, the row says `unsigned int`",
            "parameter 4 has no default, the row shows = 0",
        }));
    }

    [Test]
    public void AnExtraDefaultFails()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, unsigned int = 1, std::size_t = 0", ZeroRow);

        Assert.That(SingleFailure(sdk.Check()).Problem, Is.EqualTo("parameter 3 has a default (= 1), the row shows none"));
    }

    [Test]
    public void ADifferentDefaultValueFails()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t = 1", ZeroRow);

        Assert.That(SingleFailure(sdk.Check()).Problem, Is.EqualTo("parameter 4 defaults to 1, the row says = 0"));
    }

    [Test]
    public void AnUnknownValueDefaultOnlyNeedsADefault()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t = 7",
            "poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t = ?");

        Assert.That(sdk.Check().Findings, Is.Empty);
    }

    [Test]
    public void AWrongHeaderPathFails()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t = 0", ZeroRow,
            header: "popops/Fill.hpp");

        Assert.That(SingleFailure(sdk.Check()).Problem, Is.EqualTo("is declared in popops/Fill.hpp, the row says popops/Zero.hpp"));
    }

    [Test]
    public void AMismatchWithACallsiteRowIsOnlyAWarning()
    {
        using var sdk = ZeroSdk("poplar::Graph &, const poplar::Tensor &, float, std::size_t = 0", ZeroRow, confidence: "callsite");
        var report = sdk.Check();

        Assert.That(report.Failures, Is.Zero, ReportText.Of(report.Findings));
        Assert.That(report.Findings, Has.Count.EqualTo(1));
        Assert.That(report.Findings[0].Severity, Is.EqualTo(Severity.Warning));
        Assert.That(report.Findings[0].ToString(), Does.Contain("warn").And.Contain("callsite"));
    }

    [Test]
    public void ADeclarationAbsentFromTheListFailsUnlessItIsAnAddition()
    {
        const string header = """
            #pragma once
            namespace poplar {
            class Tensor {
            public:
              unsigned rank() const;
              bool valid() const;
            };
            }
            """;
        using (var sdk = new SyntheticSdk())
        {
            sdk.Header("poplar/Tensor.hpp", header)
                .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
                .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::rank", "unsigned int", qualifiers: "const");
            var finding = SingleFailure(sdk.Check());
            Assert.That(finding.Declaration, Is.EqualTo("bool poplar::Tensor::valid() const"));
            Assert.That(finding.Problem, Does.StartWith("is not in the list (nor in the additions)"));
        }
        using (var sdk = new SyntheticSdk())
        {
            sdk.Header("poplar/Tensor.hpp", header)
                .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
                .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::rank", "unsigned int", qualifiers: "const")
                .Addition("poplar/Tensor.hpp", "method", "poplar::Tensor::valid", "bool", qualifiers: "const");
            Assert.That(sdk.Check().Findings, Is.Empty);
        }
    }

    [Test]
    public void ReturnTypeAndConstnessAreCompared()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            #include <cstddef>
            namespace poplar {
            class Tensor {
            public:
              int numElements() const;
              std::size_t dim(unsigned) ;
            };
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::numElements", "std::size_t", qualifiers: "const")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::dim", "std::size_t", "unsigned int", "const");
        var problems = sdk.Check().Findings.Select(f => f.Problem);

        Assert.That(problems, Is.EquivalentTo(new[]
        {
            "returns `int`, the row says `std::size_t`",
            "is not const, the row's is",
        }));
    }

    [Test]
    public void EachOverloadIsComparedWithItsOwnRow()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            #include <cstddef>
            namespace poplar {
            class Tensor {
            public:
              Tensor slice(std::size_t begin, std::size_t end) const;
              Tensor slice(std::size_t begin, std::size_t end, unsigned dimension) const;
              Tensor slice(std::size_t begin, std::size_t end, int dimension, int extra) const;
            };
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::slice", "poplar::Tensor", "std::size_t, std::size_t, unsigned int", "const")
            .Row("poplar/Tensor.hpp", "method", "poplar::Tensor::slice", "poplar::Tensor", "std::size_t, std::size_t", "const");
        var report = sdk.Check();

        var finding = SingleFailure(report);
        Assert.That(finding.Declaration, Does.Contain("int, int"));
        Assert.That(finding.Problem, Does.StartWith("has 4 parameter(s)"));
        Assert.That(finding.Row!.Parameters, Has.Count.EqualTo(3), "compared with the closest overload");
    }

    [Test]
    public void DeclarationsWrittenByAMacroAreComparedWithTheDefaultsOfTheMacro()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("popops/Unary.hpp", """
            #pragma once
            namespace poplar { class Tensor {}; }
            #define UNARY(name) \
              inline poplar::Tensor name(const poplar::Tensor &t, \
                                         unsigned first = 0, const char *label = "") { return t; }
            namespace popops {
            UNARY(abs)
            UNARY(neg)
            }
            """)
            .Row("popops/Unary.hpp", "class", "poplar::Tensor")
            .Row("popops/Unary.hpp", "function", "popops::abs", "poplar::Tensor", "const poplar::Tensor &, unsigned int = 0, const char * = \"\"", "inline")
            .Row("popops/Unary.hpp", "function", "popops::neg", "poplar::Tensor", "const poplar::Tensor &, unsigned int = 0, const char * = \"x\"", "inline");

        var finding = SingleFailure(sdk.Check());
        Assert.That(finding.Declaration, Does.Contain("popops::neg"));
        Assert.That(finding.Line, Is.EqualTo(8), "reported where the macro is used");
        Assert.That(finding.Problem, Is.EqualTo("parameter 3 defaults to \"\", the row says = \"x\""));
    }

    [Test]
    public void AnExpressionInAParameterTypeIsNotADefault()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Shape.hpp", """
            #pragma once
            namespace poplar {
            template <unsigned N> struct Shape {};
            void place(Shape<3> shape);
            template <unsigned N> void reshape(Shape<N> shape, unsigned dims = N);
            }
            """)
            .Row("poplar/Shape.hpp", "struct", "poplar::Shape", qualifiers: "template<unsigned N>")
            .Row("poplar/Shape.hpp", "function", "poplar::place", "void", "poplar::Shape<3>")
            .Row("poplar/Shape.hpp", "function", "poplar::reshape", "void", "poplar::Shape<N>, unsigned int = N", "template<unsigned N>");
        var report = sdk.Check();

        Assert.That(report.Findings, Is.Empty, ReportText.Of(report.Findings));
    }

    [Test]
    public void AnOverloadLikeNoRowIsReportedAsMissingFromTheList()
    {
        using var sdk = ZeroSdk("float, double", ZeroRow);
        var finding = SingleFailure(sdk.Check());

        Assert.That(finding.Problem, Does.StartWith("is an overload the list does not have (nor the additions); its 1 row(s) of popops::zero: (poplar::Graph &, const poplar::Tensor &, unsigned int, std::size_t = 0) at signatures.tsv:5"));
    }

    [Test]
    public void AParameterOfAnotherKindMakesAnotherOverloadEvenAgainstACallsiteRow()
    {
        // (const T *, const T *) is not a misspelling of the listed (const T *, std::size_t): a pointer where the row
        // has an integer is another overload, which a dump or callsite row must not turn into a warning.
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/ArrayRef.hpp", """
            #pragma once
            #include <cstddef>
            namespace poplar {
            template <class T> class ArrayRef {
            public:
              ArrayRef(const T *p, std::size_t size) : p_(p), n_(size) {}
              ArrayRef(const T *begin, const T *end) : p_(begin), n_(static_cast<std::size_t>(end - begin)) {}
            private:
              const T *p_;
              std::size_t n_;
            };
            }
            """)
            .Row("poplar/ArrayRef.hpp", "class", "poplar::ArrayRef", qualifiers: "template<class T>")
            .Row("poplar/ArrayRef.hpp", "constructor", "poplar::ArrayRef::ArrayRef", "", "const T *, std::size_t", confidence: "callsite");
        var finding = SingleFailure(sdk.Check());

        Assert.That(finding.Declaration, Does.Contain("ArrayRef(const T *, const T *)"));
        Assert.That(finding.Problem, Does.StartWith("is an overload the list does not have"));
    }

    [Test]
    public void AnOperatorIsPairedOnlyWithARowForItsOwnOperands()
    {
        // Three operator<< share `std::ostream &`; the Tensor one has no row and must not be compared with (and
        // blamed on) the StringRef row of another header. A by-value operand for the row's const & is still paired.
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/StringRef.hpp", """
            #pragma once
            #include <ostream>
            namespace poplar {
            class StringRef {};
            std::ostream &operator<<(std::ostream &os, StringRef s);
            }
            """)
            .Header("poplar/Tensor.hpp", """
            #pragma once
            #include <ostream>
            namespace poplar {
            class Tensor {};
            std::ostream &operator<<(std::ostream &os, const Tensor &t);
            }
            """)
            .Row("poplar/StringRef.hpp", "class", "poplar::StringRef")
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
            .Row("poplar/StringRef.hpp", "function", "poplar::operator<<", "std::ostream &", "std::ostream &, const poplar::StringRef &");
        var report = sdk.Check();

        Assert.That(report.Failures, Is.EqualTo(2), ReportText.Of(report.Findings));
        var tensor = report.Findings.Single(f => f.Header == "poplar/Tensor.hpp");
        Assert.That(tensor.Problem, Does.StartWith("is an overload the list does not have"));
        Assert.That(tensor.Row, Is.Null, "no row is blamed for it");
        var stringRef = report.Findings.Single(f => f.Header == "poplar/StringRef.hpp");
        Assert.That(stringRef.Problem, Is.EqualTo("parameter 2 is `poplar::StringRef`, the row says `const poplar::StringRef &`"));
    }

    [Test]
    public void CopyAndMoveMembersAreComparedOnlyWithARowOfTheirOwn()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Device.hpp", """
            #pragma once
            namespace poplar {
            class Device {
            public:
              Device(Device &&) noexcept;
              Device(const Device &);
              Device &operator=(Device &&) noexcept;
              Device &operator=(const Device &) = delete;
            };
            }
            """)
            .Row("poplar/Device.hpp", "class", "poplar::Device")
            .Row("poplar/Device.hpp", "constructor", "poplar::Device::Device", "", "poplar::Device &&", "noexcept")
            .Row("poplar/Device.hpp", "constructor", "poplar::Device::Device", "", "const poplar::Device &", "deleted");

        // The copy constructor has a row (deleted) and differs from it; the assignments have none and pass.
        Assert.That(SingleFailure(sdk.Check()).Problem, Is.EqualTo("is not deleted, the row's is"));
    }

    [Test]
    public void TypesAreComparedByFullyQualifiedNameAndCanonicalType()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Interval.hpp", """
            #pragma once
            #include <cstddef>
            #include <vector>
            namespace poplar {
            template <class T> struct GenericInterval { T b, e; };
            using Interval = GenericInterval<std::size_t>;
            class Graph {
            public:
              using TileToTensorMapping = std::vector<std::vector<Interval>>;
              void setTileMapping(const std::vector<std::vector<GenericInterval<unsigned long>>> &mapping);
            };
            }
            namespace other { struct Interval {}; }
            namespace poplar { void place(const other::Interval &, unsigned tile); }
            """)
            .Row("poplar/Interval.hpp", "struct", "poplar::GenericInterval", qualifiers: "template<class T>")
            .Row("poplar/Interval.hpp", "variable", "poplar::GenericInterval::b", "T")
            .Row("poplar/Interval.hpp", "variable", "poplar::GenericInterval::e", "T")
            .Row("poplar/Interval.hpp", "typedef", "poplar::Interval", "poplar::GenericInterval<std::size_t>")
            .Row("poplar/Interval.hpp", "class", "poplar::Graph")
            .Row("poplar/Interval.hpp", "typedef", "poplar::Graph::TileToTensorMapping", "std::vector<std::vector<poplar::Interval>>")
            .Row("poplar/Interval.hpp", "method", "poplar::Graph::setTileMapping", "void", "const poplar::Graph::TileToTensorMapping &")
            .Row("poplar/Interval.hpp", "function", "poplar::place", "void", "const poplar::Interval &, unsigned int")
            .Row("poplar/Interval.hpp", "struct", "other::Interval");
        var report = sdk.Check();

        // The typedef in the row resolves to the same type; an Interval of another namespace does not.
        var finding = SingleFailure(report);
        Assert.That(finding.Problem, Is.EqualTo("parameter 1 is `const other::Interval &`, the row says `const poplar::Interval &`"));
    }

    [Test]
    public void HelpersPrivateMembersAndDetailNamespacesAreNotSdkDeclarations()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            namespace poplar_emulator { struct TensorState { int refs; }; void helper(); }
            namespace poplar {
            namespace detail { inline int check() { return 0; } }
            namespace { struct Local {}; }
            class Tensor {
            public:
              Tensor();
              ~Tensor();
            private:
              poplar_emulator::TensorState *state_;
              void reset();
            };
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor")
            .Row("poplar/Tensor.hpp", "constructor", "poplar::Tensor::Tensor");
        var report = sdk.Check();

        Assert.That(report.Findings, Is.Empty, ReportText.Of(report.Findings));
        Assert.That(report.Declarations, Has.Count.EqualTo(2));
    }

    [Test]
    public void ExposingTheHelpersThroughTheSdkNamespaceFails()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Tensor.hpp", """
            #pragma once
            namespace poplar_emulator { struct Core { int value; }; }
            namespace poplar {
            using namespace poplar_emulator;
            class Tensor : public poplar_emulator::Core {};
            }
            """)
            .Row("poplar/Tensor.hpp", "class", "poplar::Tensor");
        var problems = sdk.Check().Findings.Where(f => f.Severity == Severity.Failure).Select(f => f.Problem).ToList();

        Assert.That(problems, Has.Some.Contains("'using namespace poplar_emulator'"));
        Assert.That(problems, Has.Some.Contains("derives publicly from poplar_emulator::Core"));
    }

    [Test]
    public void EnumsEnumeratorsAndScopingAreCompared()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/SyncType.hpp", """
            #pragma once
            namespace poplar {
            enum SyncType { INTERNAL, EXTERNAL, EVERYWHERE };
            }
            """)
            .Row("poplar/SyncType.hpp", "enum", "poplar::SyncType", "enum class")
            .Row("poplar/SyncType.hpp", "enumerator", "poplar::SyncType::INTERNAL")
            .Row("poplar/SyncType.hpp", "enumerator", "poplar::SyncType::EXTERNAL");
        var findings = sdk.Check().Findings;

        Assert.That(findings.Select(f => (f.Declaration, f.Problem)), Is.EquivalentTo(new[]
        {
            ("enum poplar::SyncType", "is an enum, the row says enum class"),
            ("enumerator poplar::SyncType::EVERYWHERE", "is not in the list (nor in the additions): declare only SDK API, or add a row with its public source"),
        }));
    }

    [Test]
    public void AHeaderThatDoesNotCompileFails()
    {
        using var sdk = new SyntheticSdk();
        sdk.Header("poplar/Broken.hpp", "#pragma once\nnamespace poplar { void f(Undeclared x); }\n");
        var finding = sdk.Check().Findings.First(f => f.Problem.StartsWith("clang:", StringComparison.Ordinal));

        Assert.That(finding.Severity, Is.EqualTo(Severity.Failure));
        Assert.That(finding.Header, Is.EqualTo("poplar/Broken.hpp"));
        Assert.That(finding.Problem, Does.Contain("Undeclared"));
    }

    [Test]
    public void AMalformedRowIsAnErrorNamingItsLine()
    {
        using var temp = new Interop.TempDirectory();
        var list = Path.Combine(temp.Path, "additions.tsv");
        File.WriteAllLines(list, [SignatureList.HeaderLine, "poplar/Tensor.hpp\tmethod\tpoplar::Tensor::valid\tbool\t\tconst\t\tdocs"]);

        var e = Assert.Throws<InvalidDataException>(() => SignatureList.Read(list))!;
        Assert.That(e.Message, Does.Contain("additions.tsv:2").And.Contain("no source"));
    }

    [Test]
    public void TheCommittedListsAreWellFormed()
    {
        var rows = SignatureList.Read(EmulatedSdkPaths.Lists);

        Assert.That(rows.Count(r => r.File.EndsWith("signatures.tsv", StringComparison.Ordinal)), Is.EqualTo(600));
        var parameters = rows.Single(r => r.QualifiedName == "poplar::Graph::addVariable" && r.Parameters.Count == 3).Parameters;
        Assert.That(parameters, Is.EqualTo(new[]
        {
            new ListParameter("const poplar::Type &", null),
            new ListParameter("poplar::ArrayRef<std::size_t>", null),
            new ListParameter("const poplar::DebugContext &", "{}"),
        }));
    }

    private static Finding SingleFailure(ConformanceReport report)
    {
        Assert.That(report.Findings, Has.Count.EqualTo(1), ReportText.Of(report.Findings));
        Assert.That(report.Findings[0].Severity, Is.EqualTo(Severity.Failure));
        return report.Findings[0];
    }
}
