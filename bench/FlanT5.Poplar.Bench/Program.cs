namespace FlanT5.Poplar.Bench;

internal static class Program
{
    private static int Main(string[] args) => 0;
}
