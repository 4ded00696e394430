using FlanT5.BindGen;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>The committed bindings are exactly what the generator makes of today's ft5.h.</summary>
[TestFixture]
public class BindingDriftTests
{
    [Test]
    public void CommittedBindingsMatchTheHeaderByteForByte()
    {
        var files = BindingGenerator.Generate(new BindingOptions { HeaderPath = RepositoryPaths.Header });
        var differences = BindingGenerator.Compare(files, RepositoryPaths.GeneratedDirectory);
        Assert.That(differences, Is.Empty,
            "ft5.h changed without regenerating the bindings; run\n  " + GeneratedHeader.RegenerateCommand + "\n" +
            string.Join("\n", differences));
    }

    [Test]
    public void AnEditedHeaderIsReportedAsDrift()
    {
        using var temp = new TempDirectory();
        var header = Path.Combine(temp.Path, "ft5.h");
        var text = File.ReadAllText(RepositoryPaths.Header)
            .Replace("    uint32_t num_threads;\n} ft5_device_desc;", "    uint32_t num_threads;\n    uint32_t added;\n} ft5_device_desc;");
        File.WriteAllText(header, text);

        var files = BindingGenerator.Generate(new BindingOptions { HeaderPath = header, DisplayPath = "native/include/ft5/ft5.h" });
        var differences = BindingGenerator.Compare(files, RepositoryPaths.GeneratedDirectory);

        Assert.That(files[0].Content, Does.Contain("public uint added;"));
        Assert.That(differences, Has.Count.EqualTo(2));
        Assert.That(differences[0], Does.Contain("Ft5Native.g.cs").And.Contain("+ public uint added;"));
        Assert.That(differences[1], Does.Contain("Ft5Layout.g.cs").And.Contain("new(\"added\", Offset: 44, Size: 4)"));
    }

    [Test]
    public void GenerationIsDeterministic()
    {
        var first = BindingGenerator.Generate(new BindingOptions { HeaderPath = RepositoryPaths.Header });
        var second = BindingGenerator.Generate(new BindingOptions { HeaderPath = RepositoryPaths.Header });
        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public void AHeaderWithErrorsFailsLoudly()
    {
        using var temp = new TempDirectory();
        var header = Path.Combine(temp.Path, "broken.h");
        File.WriteAllText(header, "#include <stdint.h>\ntypedef struct x { uint32_t a } x;\nvoid f(undeclared_t v);\n");

        var e = Assert.Throws<InvalidOperationException>(
            () => BindingGenerator.Generate(new BindingOptions { HeaderPath = header }))!;
        Assert.That(e.Message, Does.Contain("broken.h").And.Contain("error"));
    }

    [Test]
    public void MissingBuiltinHeadersFailInsteadOfTurningSizeTIntoInt()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<InvalidOperationException>(() => BindingGenerator.Generate(
            new BindingOptions { HeaderPath = RepositoryPaths.Header, BuiltinIncludeDirectory = temp.Path }))!;
        Assert.That(e.Message, Does.Contain("stddef.h").Or.Contain("size_t"));
    }

    [Test]
    public void EveryStatusReturningImportHasACheckedWrapper()
    {
        var imports = typeof(Ft5Native).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(m => m.ReturnType == typeof(ft5_status)).ToList();
        var wrappers = typeof(Ft5Native.Checked).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .ToDictionary(m => m.Name);

        Assert.That(imports, Is.Not.Empty);
        foreach (var import in imports)
        {
            Assert.That(wrappers.TryGetValue(import.Name, out var wrapper), Is.True, import.Name);
            Assert.That(wrapper!.ReturnType, Is.EqualTo(typeof(void)), import.Name);
            Assert.That(wrapper.GetParameters().Select(p => p.ParameterType),
                Is.EqualTo(import.GetParameters().Select(p => p.ParameterType)), import.Name);
        }
        Assert.That(wrappers.Keys, Is.EquivalentTo(imports.Select(i => i.Name)));
    }
}
