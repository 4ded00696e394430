using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Tests.Interop;

/// <summary>
/// Every struct of ft5.h has the same size and field offsets in C# (Marshal), in libclang's table, in the C compiler
/// and in the loaded library (ft5_abi_struct_size).
/// </summary>
[TestFixture]
public class LayoutTests
{
    private static IEnumerable<TestCaseData> Structs() =>
        Ft5Layout.Structs.Select(s => new TestCaseData(s).SetArgDisplayNames(s.Name));

    [TestCaseSource(nameof(Structs))]
    public void ManagedLayoutMatchesLibclang(object layout)
    {
        var s = (Ft5Layout.Struct)layout;
        Assert.Multiple(() =>
        {
            Assert.That(Marshal.SizeOf(s.ManagedType), Is.EqualTo(s.Size), $"Marshal.SizeOf({s.Name})");
            Assert.That(UnsafeSizeOf(s.ManagedType), Is.EqualTo(s.Size), $"sizeof({s.Name})");
            foreach (var f in s.Fields)
            {
                Assert.That((long)Marshal.OffsetOf(s.ManagedType, f.Name), Is.EqualTo(f.Offset), $"OffsetOf({s.Name}.{f.Name})");
            }
            Assert.That(s.ManagedType.GetFields().Select(f => f.Name), Is.EqualTo(s.Fields.Select(f => f.Name)),
                $"fields of {s.Name}");
        });
    }

    [Test]
    public void TheTableMatchesTheCCompiler()
    {
        var compiler = FindCompiler();
        using var temp = new TempDirectory();
        var source = Path.Combine(temp.Path, "layout.c");
        var program = Path.Combine(temp.Path, "layout");
        File.WriteAllText(source, LayoutProgram(Ft5Layout.Structs));
        Run(compiler, $"-std=c11 -Wall -Werror -I \"{RepositoryPaths.IncludeDirectory}\" -o \"{program}\" \"{source}\"");
        var measured = Run(program, "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1]));

        Assert.Multiple(() =>
        {
            foreach (var s in Ft5Layout.Structs)
            {
                Assert.That(measured[$"sizeof:{s.Name}"], Is.EqualTo(s.Size), $"sizeof({s.Name})");
                Assert.That(measured[$"alignof:{s.Name}"], Is.EqualTo(s.Alignment), $"_Alignof({s.Name})");
                foreach (var f in s.Fields)
                {
                    Assert.That(measured[$"offsetof:{s.Name}.{f.Name}"], Is.EqualTo(f.Offset), $"offsetof({s.Name}, {f.Name})");
                    Assert.That(measured[$"sizeof:{s.Name}.{f.Name}"], Is.EqualTo(f.Size), $"sizeof({s.Name}.{f.Name})");
                }
            }
        });
    }

    [Test]
    public void TheLibraryReportsTheSameStructSizes()
    {
        var layouts = Ft5Layout.Structs.ToDictionary(s => s.Name);
        var ids = Enum.GetValues<ft5_struct_id>();
        Assert.That(ids, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var id in ids)
            {
                // FT5_STRUCT_DEVICE_DESC names ft5_device_desc, FT5_STRUCT_BATCH ft5_batch, ...
                var name = "ft5_" + id.ToString()["FT5_STRUCT_".Length..].ToLowerInvariant();
                Assert.That(layouts.TryGetValue(name, out var layout), Is.True, $"{id} names no struct {name}");
                if (layout is null) continue;
                Assert.That((long)Ft5Native.ft5_abi_struct_size(id), Is.EqualTo(Marshal.SizeOf(layout.ManagedType)),
                    $"ft5_abi_struct_size({id})");
            }
            Assert.That((long)Ft5Native.ft5_abi_struct_size((ft5_struct_id)1000), Is.Zero, "unknown id");
        });
    }

    [Test]
    public void EveryVersionedStructHasAStructId()
    {
        var ids = Enum.GetNames<ft5_struct_id>().Select(n => "ft5_" + n["FT5_STRUCT_".Length..].ToLowerInvariant()).ToHashSet();
        var versioned = Ft5Layout.Structs.Where(s => s.Fields.Count > 0 && s.Fields[0].Name == "struct_size").Select(s => s.Name);
        Assert.That(versioned, Is.SubsetOf(ids), "a struct with struct_size lacks an FT5_STRUCT_* id");
    }

    private static string LayoutProgram(IEnumerable<Ft5Layout.Struct> structs)
    {
        var c = new StringBuilder();
        c.Append("#include <stddef.h>\n#include <stdio.h>\n#include \"ft5/ft5.h\"\n\nint main(void) {\n");
        foreach (var s in structs)
        {
            c.Append($"    printf(\"sizeof:{s.Name} %zu\\n\", sizeof({s.Name}));\n");
            c.Append($"    printf(\"alignof:{s.Name} %zu\\n\", (size_t)_Alignof({s.Name}));\n");
            foreach (var f in s.Fields)
            {
                c.Append($"    printf(\"offsetof:{s.Name}.{f.Name} %zu\\n\", offsetof({s.Name}, {f.Name}));\n");
                c.Append($"    printf(\"sizeof:{s.Name}.{f.Name} %zu\\n\", sizeof((({s.Name}*)0)->{f.Name}));\n");
            }
        }
        c.Append("    return 0;\n}\n");
        return c.ToString();
    }

    private static string FindCompiler()
    {
        foreach (var name in new[] { Environment.GetEnvironmentVariable("CC"), "cc", "gcc", "clang" })
        {
            if (string.IsNullOrEmpty(name)) continue;
            if (Path.IsPathRooted(name) && File.Exists(name)) return name;
            var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
                .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
            if (found is not null) return found;
        }
        Assert.Fail("no C compiler (cc, gcc or clang) on PATH; the layout cross-check needs one");
        return "";
    }

    private static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"{file} {arguments}\n{stderr}");
        return stdout.Result;
    }

    private static long UnsafeSizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
}
