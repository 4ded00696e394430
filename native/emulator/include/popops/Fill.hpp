// Emulated Poplar SDK: setting every element of a tensor to one value (converted to its type).
#ifndef POPOPS_FILL_HPP
#define POPOPS_FILL_HPP

#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Expr.hpp>

#include <type_traits>

namespace popops {

template <typename FillValueType>
void fill(poplar::Graph &graph, const poplar::Tensor &t, poplar::program::Sequence &prog, FillValueType fillValue,
          const poplar::DebugContext &debugContext = {}) {
  static_assert(std::is_arithmetic<FillValueType>::value, "popops::fill needs an arithmetic value");
  mapInPlace(graph, expr::Cast(expr::Const(fillValue), t.elementType()), {t}, prog, debugContext);
}

} // namespace popops

#endif
