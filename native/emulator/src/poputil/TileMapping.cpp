#include <poputil/TileMapping.hpp>

#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/GraphState.hpp"
#include "core/Layout.hpp"

namespace poputil {

using poplar_emulator::Access;

void mapTensorLinearly(poplar::Graph &graph, const poplar::Tensor &t, unsigned minElementsPerTile, unsigned grainSize) {
  poplar_emulator::mapTensorLinearly(Access::impl(graph), t, minElementsPerTile, grainSize);
}

void mapTensorLinearly(poplar::Graph &graph, const poplar::Tensor &t) {
  mapTensorLinearly(graph, t, 1, graph.getTarget().getVectorWidth(t.elementType()));
}

poplar::Tensor cloneToIpu(poplar::Graph &graph, const poplar::Tensor &t, unsigned dstIPU,
                          const poplar::DebugContext &debugContext, poplar::TensorCloneMethod method) {
  poplar_emulator::GraphImpl &g = Access::impl(graph);
  unsigned perIpu = g.state->replicaTarget.getTilesPerIPU();
  if (dstIPU >= g.state->replicaTarget.getNumIPUs())
    throw poplar::poplar_error("poputil::cloneToIpu '" + debugContext.getPathName() + "': IPU " + std::to_string(dstIPU) +
                               " does not exist (the replica has " + std::to_string(g.state->replicaTarget.getNumIPUs()) + ")");
  poplar::Tensor out = graph.clone(t, debugContext, method);
  const auto &impl = *Access::impl(out);
  if (impl.segments.empty()) return out;
  poplar_emulator::VarInfo &var = g.state->vars[impl.segments[0].var];
  for (const auto &run : var.mapping.runs()) var.mapping.assign(run.begin, run.end, dstIPU * perIpu + run.tile % perIpu);
  return out;
}

poplar::Tensor copyToIpu(poplar::Graph &masterGraph, const poplar::Tensor &t, poplar::program::Sequence &prog,
                         unsigned dstIPU, const poplar::DebugContext &debugContext, poplar::TensorCloneMethod method) {
  poplar::Tensor out = cloneToIpu(masterGraph, t, dstIPU, debugContext, method);
  prog.add(poplar::program::Copy(t, out, false, debugContext));
  return out;
}

} // namespace poputil
