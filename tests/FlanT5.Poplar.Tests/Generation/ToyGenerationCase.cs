using System.Text.Json;
using FlanT5.Poplar.Generation;

namespace FlanT5.Poplar.Tests.Generation;

/// <summary>One configuration of fixtures/generation/toy_generation.json (made by make_toy_generation.py from
/// torch_t5.py's greedy_generate / beam_generate, which match transformers 5.17).</summary>
public sealed class ToyGenerationCase
{
    public required string Name { get; init; }
    public required string Search { get; init; }
    public required int Batch { get; init; }
    public required int SrcLen { get; init; }
    public required int Vocab { get; init; }
    public required int NumHash { get; init; }
    public required int NumCtx { get; init; }
    public required int MaxNewTokens { get; init; }
    public required int[] InputIds { get; init; }
    public required int[] AttentionMask { get; init; }
    public required float[] Table { get; init; }
    public required float[] CtxTable { get; init; }
    public required int[][] ExpectedIds { get; init; }
    public float[]? ExpectedScores { get; init; }
    public required int ExpectedSteps { get; init; }
    public int NumBeams { get; init; } = 1;
    public BeamEarlyStopping EarlyStopping { get; init; }
    public double LengthPenalty { get; init; } = 1.0;

    public override string ToString() => Name;

    public EncoderBatch Inputs() => new((int[])InputIds.Clone(), (int[])AttentionMask.Clone(), Batch, SrcLen);

    public GenerationOptions Options() => new()
    {
        MaxNewTokens = MaxNewTokens,
        NumBeams = NumBeams,
        EarlyStopping = EarlyStopping,
        LengthPenalty = LengthPenalty,
        BatchSize = Batch,
    };

    public ToyDecoder Decoder() => new(Table, CtxTable, NumHash, NumCtx, Vocab);

    public static IEnumerable<ToyGenerationCase> Load(string search)
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "generation", "toy_generation.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("search").GetString() != search)
                continue;
            yield return new ToyGenerationCase
            {
                Name = c.GetProperty("name").GetString()!,
                Search = search,
                Batch = c.GetProperty("batch").GetInt32(),
                SrcLen = c.GetProperty("src_len").GetInt32(),
                Vocab = c.GetProperty("vocab").GetInt32(),
                NumHash = c.GetProperty("n_hash").GetInt32(),
                NumCtx = c.GetProperty("n_ctx").GetInt32(),
                MaxNewTokens = c.GetProperty("max_new_tokens").GetInt32(),
                InputIds = Ints(c.GetProperty("input_ids")),
                AttentionMask = Ints(c.GetProperty("attention_mask")),
                Table = Floats(c.GetProperty("table")),
                CtxTable = Floats(c.GetProperty("ctx_table")),
                ExpectedIds = c.GetProperty("expected_ids").EnumerateArray().Select(Ints).ToArray(),
                ExpectedSteps = c.GetProperty("expected_steps").GetInt32(),
                ExpectedScores = c.TryGetProperty("expected_scores", out JsonElement s) ? Floats(s) : null,
                NumBeams = c.TryGetProperty("num_beams", out JsonElement k) ? k.GetInt32() : 1,
                EarlyStopping = c.TryGetProperty("early_stopping", out JsonElement e) ? EarlyStoppingOf(e) : default,
                LengthPenalty = c.TryGetProperty("length_penalty", out JsonElement lp) ? lp.GetDouble() : 1.0,
            };
        }
    }

    private static BeamEarlyStopping EarlyStoppingOf(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => BeamEarlyStopping.WhenBeamsFull,
        JsonValueKind.False => BeamEarlyStopping.Heuristic,
        JsonValueKind.String when e.GetString() == "never" => BeamEarlyStopping.Never,
        _ => throw new InvalidDataException($"early_stopping {e} is not true, false or \"never\"."),
    };

    private static int[] Ints(JsonElement a) => a.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    // The JSON holds float32 values in their shortest spelling: parsed as float32 they are exact.
    private static float[] Floats(JsonElement a) => a.EnumerateArray().Select(x => x.GetSingle()).ToArray();
}
