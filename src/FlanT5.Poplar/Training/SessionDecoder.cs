using FlanT5.Poplar.Generation;
using FlanT5.Poplar.Interop;

namespace FlanT5.Poplar.Training;

/// <summary>The native session's cached decoding as the <see cref="IIncrementalDecoder"/> the searches drive.</summary>
public sealed class SessionDecoder(T5Session session) : IIncrementalDecoder
{
    public int VocabSize => session.Model.VocabSize;

    public void Begin(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int srcLen, int maxSteps) =>
        session.DecodeBegin(inputIds, attentionMask, batch, srcLen, maxSteps);

    public void Step(ReadOnlySpan<int> tokens, Span<float> logits) => session.DecodeStep(tokens, logits);

    public void Reorder(ReadOnlySpan<int> rows) => session.DecodeReorder(rows);

    public void End() => session.DecodeEnd();

    public void Prepare(IReadOnlyList<DecodeSize> decodes)
    {
        if (decodes.Count > 0) session.Prepare([.. decodes.Select(d => ProgramShape.Decode(d.Rows, d.SourceLength, d.MaxSteps))]);
    }
}
