using BenchmarkDotNet.Running;

namespace FlanT5.Poplar.Bench;

internal static class Program
{
    /// <summary>
    /// <c>tokenize-vs-spm [--rows N] [--file F] [--model DIR] [--repeats R]</c>: tokenizer throughput beside spm_encode.
    /// Anything else goes to BenchmarkDotNet (e.g. <c>--filter *Tokenizer*</c>).
    /// </summary>
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "tokenize-vs-spm")
            return TokenizeVsSpm.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
