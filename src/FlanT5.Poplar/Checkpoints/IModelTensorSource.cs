using FlanT5.Poplar.Configuration;

namespace FlanT5.Poplar.Checkpoints;

/// <summary>A named tensor's shape, in Hugging Face terms.</summary>
public sealed record TensorEntry(string Name, int[] Shape)
{
    public long ElementCount => ShapeMath.ElementCount(Shape);
}

/// <summary>Named fp32 tensors read one at a time (weights, optimizer moments).</summary>
public interface ITensorSource
{
    IReadOnlyList<TensorEntry> Tensors { get; }
    /// <summary>Reads tensor <paramref name="name"/> as fp32 into a destination of exactly its element count.</summary>
    void ReadTensor(string name, Span<float> destination);
}

/// <summary>
/// Model weights that can be read one tensor at a time, under Hugging Face names: an opened HF checkpoint
/// (<see cref="HfCheckpoint"/>), an in-memory <see cref="HostModelState"/>, or — later — a live device session.
/// The exporter and the training-checkpoint store read through this seam only.
/// </summary>
public interface IModelTensorSource : ITensorSource
{
    T5ModelConfig Config { get; }
    EmbeddingLayout Layout { get; }
}
