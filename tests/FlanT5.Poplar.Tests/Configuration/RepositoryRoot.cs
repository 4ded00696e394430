namespace FlanT5.Poplar.Tests.Configuration;

/// <summary>The repository checkout the tests run from (configs/ and samples/ are read from it).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "FlanT5.Poplar.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("FlanT5.Poplar.sln not found above the test directory");
    }

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);
}
