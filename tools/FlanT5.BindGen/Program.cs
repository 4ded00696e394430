namespace FlanT5.BindGen;

/// <summary>
/// flant5-bindgen: generates the C# bindings of a C header.
///   --header PATH     the header (e.g. native/include/ft5/ft5.h)
///   --output DIR      where Ft5Native.g.cs and Ft5Layout.g.cs go
///   --check           compare with DIR instead of writing; exit 1 with a summary when they differ
///   --builtin-include DIR   the compiler's stddef.h/stdint.h directory (default: found automatically)
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: FlanT5.BindGen --header <ft5.h> --output <dir> [--check] [--builtin-include <dir>]";

    private static int Main(string[] args)
    {
        string? header = null, output = null, builtin = null;
        var check = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--header" when i + 1 < args.Length: header = args[++i]; break;
                case "--output" when i + 1 < args.Length: output = args[++i]; break;
                case "--builtin-include" when i + 1 < args.Length: builtin = args[++i]; break;
                case "--check": check = true; break;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown or incomplete argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        if (header is null || output is null)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        IReadOnlyList<GeneratedFile> files;
        try
        {
            files = BindingGenerator.Generate(new BindingOptions { HeaderPath = header, BuiltinIncludeDirectory = builtin });
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }

        if (check)
        {
            var differences = BindingGenerator.Compare(files, output);
            if (differences.Count == 0)
            {
                Console.WriteLine($"bindings in {output} are up to date with {header}");
                return 0;
            }
            Console.Error.WriteLine($"bindings in {output} are out of date with {header}:");
            foreach (var d in differences) Console.Error.WriteLine("  " + d);
            Console.Error.WriteLine("regenerate with: " + GeneratedHeader.RegenerateCommand);
            return 1;
        }

        BindingGenerator.WriteTo(files, output);
        foreach (var f in files) Console.WriteLine($"wrote {Path.Combine(output, f.Name)}");
        return 0;
    }
}
