#pragma once
// The seeds of the hardware random generators (stochastic rounding), as the SDK's poplar/RandomSeed.hpp.
#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

namespace poplar {

// A new UNSIGNED_INT tensor [tiles, 4] that, when prog runs, receives the generators' state.
Tensor getHwSeeds(Graph &graph, program::Sequence &prog, const DebugContext &debugContext = {});
// When prog runs, sets the generators' state from a tensor made by getHwSeeds (or of that shape).
void setHwSeeds(Graph &graph, const Tensor &hwSeeds, program::Sequence &prog, const DebugContext &debugContext = {});

} // namespace poplar
