namespace FlanT5.Poplar.Generation;

/// <summary>One cached decode: <see cref="Rows"/> sequences of prompts of <see cref="SourceLength"/> tokens, with room
/// for <see cref="MaxSteps"/> generated tokens.</summary>
public readonly record struct DecodeSize(int Rows, int SourceLength, int MaxSteps);
