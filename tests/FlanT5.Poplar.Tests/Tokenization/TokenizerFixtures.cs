using FlanT5.Poplar.Tokenization;

namespace FlanT5.Poplar.Tests.Tokenization;

/// <summary>Paths of the tokenizer fixtures (copied to the test output folder) and a shared tokenizer.</summary>
internal static class TokenizerFixtures
{
    public static string Root => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures");
    public static string FlanT5TinyDir => Path.Combine(Root, "flan-t5-tiny");
    public static string SpieceModel => Path.Combine(FlanT5TinyDir, "spiece.model");
    public static string ParityJson => Path.Combine(Root, "tokenizer_parity.json");

    private static readonly Lazy<T5Tokenizer> s_tokenizer = new(() => T5Tokenizer.FromDirectory(FlanT5TinyDir));

    /// <summary>The flan-t5-tiny tokenizer (immutable, so one instance serves every test).</summary>
    public static T5Tokenizer Tokenizer => s_tokenizer.Value;
}
