using FlanT5.Poplar.Configuration;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Benchmarks;

/// <summary>
/// torch_t5.py bench's batch: token ids drawn uniformly from [2, vocab) (seeded), each row's last source token and
/// last label EOS, all-ones mask; decoder inputs = labels shifted right behind the decoder start token.
/// </summary>
internal sealed class BenchmarkInputs
{
    private BenchmarkInputs(int[] inputIds, int[] attentionMask, TokenBatch training)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Training = training;
    }

    public int[] InputIds { get; }
    public int[] AttentionMask { get; }
    public TokenBatch Training { get; }
    public int SourceLength => Training.SourceLength;
    public int TargetLength => Training.TargetLength;

    public static BenchmarkInputs Create(T5ModelConfig config, T5BenchmarkOptions options)
    {
        var random = new Random(1);
        int batch = options.Batch, src = options.SrcLen, tgt = options.TgtLen;
        var ids = new int[batch * src];
        var labels = new int[batch * tgt];
        var decoderIds = new int[batch * tgt];
        for (int i = 0; i < ids.Length; i++) ids[i] = random.Next(2, config.VocabSize);
        for (int i = 0; i < labels.Length; i++) labels[i] = random.Next(2, config.VocabSize);
        for (int r = 0; r < batch; r++)
        {
            ids[(r + 1) * src - 1] = config.EosTokenId;
            labels[(r + 1) * tgt - 1] = config.EosTokenId;
            decoderIds[r * tgt] = config.DecoderStartTokenId;
            Array.Copy(labels, r * tgt, decoderIds, r * tgt + 1, tgt - 1);
        }
        var mask = new int[ids.Length];
        Array.Fill(mask, 1);
        var training = new TokenBatch(batch, src, tgt, ids, decoderIds, mask, labels, training: true);
        return new BenchmarkInputs(ids, mask, training);
    }
}
