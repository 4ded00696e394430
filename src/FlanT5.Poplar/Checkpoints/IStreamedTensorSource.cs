namespace FlanT5.Poplar.Checkpoints;

/// <summary>
/// A tensor source backed by safetensors files that can also deliver all its tensors in file order with O_DIRECT
/// read-ahead (<see cref="SafetensorsTensorStream"/>): the fast path for loading a whole model or its optimizer state
/// onto a device, where <see cref="ITensorSource.ReadTensor"/> suits reading a few tensors in any order.
/// </summary>
public interface IStreamedTensorSource : ITensorSource
{
    /// <summary>Every tensor of <see cref="ITensorSource.Tensors"/>, in the order the files hold them.</summary>
    SafetensorsTensorStream StreamTensors();
}
