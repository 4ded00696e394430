using System.Reflection;
using System.Runtime.InteropServices;
using FlanT5.Clang;

namespace FlanT5.Poplar.Tests.Conformance;

/// <summary>The shared libclang binding (tools/FlanT5.Clang) binds every import to an export of the packaged libclang.</summary>
[TestFixture]
public class LibClangBindingTests
{
    [Test]
    public void EveryImportBindsToALibClangExport()
    {
        var imports = typeof(LibClang)
            .GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m.Attributes.HasFlag(MethodAttributes.PinvokeImpl))
            .ToList();
        var declared = typeof(LibClang).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Count(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null);
        Assert.That(declared, Is.GreaterThan(50));
        Assert.That(imports, Has.Count.EqualTo(declared), "every [LibraryImport] must compile to a P/Invoke");

        var missing = new List<string>();
        foreach (var import in imports)
        {
            try
            {
                Marshal.Prelink(import);
            }
            catch (EntryPointNotFoundException)
            {
                missing.Add(import.Name);
            }
        }
        Assert.That(missing, Is.Empty, $"not exported by libclang: {string.Join(", ", missing)}");
    }
}
