namespace FlanT5.Poplar.Tests.Interop;

/// <summary>Files of the source checkout the interop tests compare against (the header, the committed bindings).</summary>
internal static class RepositoryPaths
{
    public static string Root
    {
        get
        {
            for (var dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "FlanT5.Poplar.sln"))) return dir;
            }
            throw new InvalidOperationException($"no FlanT5.Poplar.sln above {AppContext.BaseDirectory}");
        }
    }

    public static string Header => Path.Combine(Root, "native", "include", "ft5", "ft5.h");

    public static string IncludeDirectory => Path.Combine(Root, "native", "include");

    public static string GeneratedDirectory => Path.Combine(Root, "src", "FlanT5.Poplar.Interop", "Generated");
}
