#pragma once
// Tile mapping helpers, as poplibs' poputil/TileMapping.hpp.
#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/TensorCloneMethod.hpp>

namespace poputil {

// Spreads t's elements over the graph's tiles in order, in chunks of a multiple of grainSize elements
// and at least minElementsPerTile.
void mapTensorLinearly(poplar::Graph &graph, const poplar::Tensor &t, unsigned minElementsPerTile, unsigned grainSize);
// As above with one element minimum and the target's vector width as grain.
void mapTensorLinearly(poplar::Graph &graph, const poplar::Tensor &t);

// A new variable shaped like t, each element on the same tile number of IPU dstIPU.
poplar::Tensor cloneToIpu(poplar::Graph &graph, const poplar::Tensor &t, unsigned dstIPU,
                          const poplar::DebugContext &debugContext = {},
                          poplar::TensorCloneMethod method = poplar::TensorCloneMethod::PRESERVE_ORDER_UNLESS_ALIASES);
// cloneToIpu, plus a Copy of t into the clone appended to prog.
poplar::Tensor copyToIpu(poplar::Graph &masterGraph, const poplar::Tensor &t, poplar::program::Sequence &prog,
                         unsigned dstIPU, const poplar::DebugContext &debugContext = {},
                         poplar::TensorCloneMethod method = poplar::TensorCloneMethod::PRESERVE_ORDER_UNLESS_ALIASES);

} // namespace poputil
