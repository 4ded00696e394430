namespace FlanT5.Poplar.Placement;

/// <summary>How the session holds the word embeddings. Values match ft5_embedding_layout in ft5.h.</summary>
public enum EmbeddingLayout
{
    /// <summary>One <c>shared.weight</c> used by encoder and decoder (hub Flan-T5 checkpoints).</summary>
    Shared = 0,
    /// <summary>Distinct <c>encoder.embed_tokens.weight</c> and <c>decoder.embed_tokens.weight</c> (transformers-5 untied saves).</summary>
    Separate = 1,
}
