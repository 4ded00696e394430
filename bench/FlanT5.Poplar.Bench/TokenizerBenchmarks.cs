using BenchmarkDotNet.Attributes;
using FlanT5.Poplar.Data;
using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Bench;

/// <summary>Micro benchmarks of the tokenizer and batch building on MNLI-length prompts.</summary>
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private T5Tokenizer _tokenizer = null!;
    private string[] _prompts = null!;
    private int[][] _ids = null!;
    private int[][] _targets = null!;
    private readonly BatchBuilder _builder = new(PaddingOptions.Longest(multipleOf: 8), PaddingOptions.Longest());

    [GlobalSetup]
    public void Setup()
    {
        string model = Path.Combine(FindRepoRoot(), "samples", "models", "flan-t5-tiny");
        _tokenizer = T5Tokenizer.FromDirectory(model);
        string file = Path.Combine(Path.GetTempPath(), "flant5-bench-micro.tsv");
        SyntheticMnliFile.Write(file, 128, seed: 1);
        var examples = new GlueTsvReader().Read(file).Examples.Select(PromptTemplate.Mnli.Format).ToArray();
        _prompts = examples.Select(e => e.Source).ToArray();
        _ids = _prompts.Select(p => _tokenizer.Encode(p)).ToArray();
        _targets = examples.Select(e => _tokenizer.Encode(e.Target)).ToArray();
    }

    [Benchmark(OperationsPerInvoke = 128)]
    public int EncodePrompt()
    {
        int n = 0;
        foreach (var p in _prompts) n += _tokenizer.Encode(p).Length;
        return n;
    }

    [Benchmark(OperationsPerInvoke = 128)]
    public int DecodeIds()
    {
        int n = 0;
        foreach (var ids in _ids) n += _tokenizer.Decode(ids).Length;
        return n;
    }

    [Benchmark]
    public int BuildBatchOf128() => _builder.Build(_ids, _targets).Rows;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FlanT5.Poplar.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("cannot find the repository root (FlanT5.Poplar.sln)");
    }
}
