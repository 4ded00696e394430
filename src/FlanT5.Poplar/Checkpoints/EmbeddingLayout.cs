namespace FlanT5.Poplar.Checkpoints;

/// <summary>How the word embeddings are held (the session parameter contract).</summary>
public enum EmbeddingLayout
{
    /// <summary>One <c>shared.weight</c> used by encoder and decoder (hub Flan-T5 files).</summary>
    Shared,
    /// <summary>Distinct <c>encoder.embed_tokens.weight</c> and <c>decoder.embed_tokens.weight</c> (transformers-5 untied saves).</summary>
    Separate,
}
