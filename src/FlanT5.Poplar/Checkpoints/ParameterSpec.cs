namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// One session parameter: its Hugging Face name and shape, the dimension tensor parallelism splits
/// (-1: replicated) and whether AdamW skips weight decay for it.
/// </summary>
public sealed record ParameterSpec(string Name, int[] Shape, int ShardDim, bool NoWeightDecay)
{
    public long ElementCount => ShapeMath.ElementCount(Shape);

    /// <summary>Embeddings and lm_head split the vocabulary, which is padded to a multiple of the TP degree.</summary>
    public bool IsVocabSharded => ShardDim == 0 && HfParameterMap.IsVocabMatrix(Name);
}
