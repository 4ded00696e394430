namespace FlanT5.Poplar.Data;

/// <summary>A text-to-text training example: the encoder's text and the decoder's target text.</summary>
public sealed record Seq2SeqExample(string Source, string Target);
