namespace FlanT5.BindGen;

internal static class Program
{
    private static int Main(string[] args) => 0;
}
