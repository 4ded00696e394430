#include "t5/residual.h"

#include <popops/ElementWise.hpp>

namespace ft5::t5 {

namespace pe = popops::expr;

poplar::Tensor residualAdd(poplar::Graph& graph, const Precision& precision, const poplar::Tensor& x,
                           const poplar::Tensor& branch, poplar::program::Sequence& prog, const std::string& name) {
    const bool clamp = x.elementType() == poplar::HALF && precision.mitigations.clamp;
    if (x.elementType() == branch.elementType() && !clamp) return popops::add(graph, x, branch, prog, name);
    // the sum in FLOAT, clamped where asked, rounded once into x's type
    const auto sum = pe::Cast(pe::_1, poplar::FLOAT) + pe::Cast(pe::_2, poplar::FLOAT);
    if (clamp)
        return popops::map(graph, pe::Cast(pe::Clamp(sum, pe::Const(-kHalfClamp), pe::Const(kHalfClamp)), x.elementType()),
                           {x, branch}, prog, name);
    return popops::map(graph, pe::Cast(sum, x.elementType()), {x, branch}, prog, name);
}

poplar::Tensor residualStream(poplar::Graph& graph, const Precision& precision, const poplar::Tensor& embedded,
                              poplar::program::Sequence& prog, const std::string& name) {
    return asType(graph, embedded, precision.residualType(), prog, name);
}

}  // namespace ft5::t5
