namespace FlanT5.Poplar.Generation;

/// <summary>transformers' <c>early_stopping</c> for beam search.</summary>
public enum BeamEarlyStopping
{
    /// <summary><c>early_stopping=False</c> (the transformers default): stop a row when no running beam, scored at the
    /// current length, beats the worst of its num_beams finished hypotheses.</summary>
    Heuristic,

    /// <summary><c>early_stopping=True</c>: stop a row as soon as it has num_beams finished hypotheses.</summary>
    WhenBeamsFull,

    /// <summary><c>early_stopping="never"</c>: like Heuristic, but with a positive length penalty the running score
    /// is judged at max length (the canonical beam search).</summary>
    Never,
}
