// popops::cast: a map of one Cast expression.
#include <popops/Cast.hpp>

#include <popops/ElementWise.hpp>

#include "ops/op_support.h"

namespace popops {

poplar::Tensor cast(poplar::Graph &graph, const poplar::Tensor &src, const poplar::Type &dstType,
                    poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  return map(graph, expr::Cast(expr::_1, dstType), {src}, prog, {debugContext, "cast"});
}

void castWithOutput(poplar::Graph &graph, const poplar::Tensor &src, const poplar::Tensor &dst,
                    poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  if (!dst.valid())
    poplar_emulator::opError(poplar_emulator::opName(debugContext, "popops::cast"), "the output is not a tensor");
  mapWithOutput(graph, expr::Cast(expr::_1, dst.elementType()), {src}, dst, prog, {debugContext, "cast"});
}

poplar::program::Program cast(poplar::Graph &graph, poplar::Tensor src, poplar::Tensor dst,
                              const poplar::DebugContext &debugContext) {
  poplar::program::Sequence prog({}, debugContext);
  castWithOutput(graph, src, dst, prog, debugContext);
  return prog;
}

} // namespace popops
