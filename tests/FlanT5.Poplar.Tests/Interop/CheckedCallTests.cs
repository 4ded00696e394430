using System.Reflection;
using System.Text.RegularExpressions;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>Handwritten code calls status-returning functions only through Ft5Native.Checked, so no status is ignored.</summary>
[TestFixture]
public partial class CheckedCallTests
{
    [Test]
    public void NoHandwrittenCodeCallsARawStatusReturningImport()
    {
        var statusFunctions = typeof(Ft5Native).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.ReturnType == typeof(ft5_status)).Select(m => m.Name).ToHashSet();
        var sources = Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}Generated{Path.DirectorySeparatorChar}") &&
                        !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.That(sources, Is.Not.Empty);

        var offenders = new List<string>();
        foreach (var file in sources)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (Match m in RawCall().Matches(lines[i]))
                {
                    if (statusFunctions.Contains(m.Groups[1].Value))
                    {
                        offenders.Add($"{Path.GetRelativePath(RepositoryPaths.Root, file)}:{i + 1}: {lines[i].Trim()}");
                    }
                }
            }
        }
        Assert.That(offenders, Is.Empty, "use Ft5Native.Checked.<function> instead:\n" + string.Join("\n", offenders));
    }

    // Ft5Native.ft5_x( but not Ft5Native.Checked.ft5_x(
    [GeneratedRegex(@"\bFt5Native\.(ft5_\w+)\s*\(")]
    private static partial Regex RawCall();
}
