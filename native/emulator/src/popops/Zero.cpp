#include <popops/Zero.hpp>

#include <popops/Fill.hpp>

namespace popops {

void zero(poplar::Graph &graph, const poplar::Tensor &t, poplar::program::Sequence &prog,
          const poplar::DebugContext &debugContext) {
  fill(graph, t, prog, 0, {debugContext, "zero"});
}

} // namespace popops
