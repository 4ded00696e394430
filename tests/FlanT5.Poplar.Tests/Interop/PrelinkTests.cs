using System.Reflection;
using System.Runtime.InteropServices;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>Every import of Ft5Native binds to an export of the loaded libft5 (catches missing native symbols).</summary>
[TestFixture]
public class PrelinkTests
{
    [Test]
    public void EveryImportBindsToANativeExport()
    {
        var imports = PInvokeMethods(typeof(Ft5Native)).ToList();
        var declared = typeof(Ft5Native).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Count(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null);
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
                missing.Add(EntryPoint(import));
            }
        }
        Assert.That(missing, Is.Empty,
            $"{missing.Count} function(s) declared in ft5.h but not exported by libft5.so: {string.Join(", ", missing)}");
    }

    [Test]
    public void PrelinkDetectsAMissingExport()
    {
        var method = typeof(PrelinkTests).GetMethod(nameof(ft5_function_that_does_not_exist), BindingFlags.NonPublic | BindingFlags.Static)!;
        Assert.Throws<EntryPointNotFoundException>(() => Marshal.Prelink(method));
    }

    [DllImport("ft5", EntryPoint = "ft5_function_that_does_not_exist")]
    private static extern void ft5_function_that_does_not_exist();

    // A blittable [LibraryImport] compiles to an extern [DllImport] method under the same name; if the generator ever
    // emits a stub instead, the P/Invoke is a nested local function, which this finds too.
    private static IEnumerable<MethodInfo> PInvokeMethods(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m.Attributes.HasFlag(MethodAttributes.PinvokeImpl));

    private static string EntryPoint(MethodInfo method) =>
        method.GetCustomAttribute<DllImportAttribute>()?.EntryPoint ?? method.Name;
}
