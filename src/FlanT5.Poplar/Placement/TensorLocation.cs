namespace FlanT5.Poplar.Placement;

/// <summary>Where a group of tensors lives. Values match ft5_memory_location in ft5.h.</summary>
public enum TensorLocation
{
    /// <summary>In the tile memory of the IPU (FT5_MEMORY_ON_CHIP).</summary>
    OnChip = 0,
    /// <summary>In the streaming memory attached to the IPU, loaded when needed (FT5_MEMORY_STREAMING).</summary>
    Streaming = 1,
}
