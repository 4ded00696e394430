#include "t5/linear.h"

#include <poplin/MatMul.hpp>

namespace ft5::t5 {

poplar::Tensor linear(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x,
                      poplar::program::Sequence& prog, const std::string& name) {
    // the output takes the operands' type; the partials are FLOAT (poplin's default)
    return poplin::matMul(graph, x, p.weight.transpose(), prog, x.elementType(), name);
}

poplar::Tensor linearBackward(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x,
                              const poplar::Tensor& dy, poplar::program::Sequence& prog, const std::string& name) {
    poplin::matMulAcc(graph, p.gradient, 1.0f, dy.transpose(), x, prog, name + "/weight_gradient");
    return poplin::matMul(graph, dy, p.weight, prog, dy.elementType(), name + "/input_gradient");
}

void linearBackwardInto(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x, const poplar::Tensor& dy,
                        const poplar::Tensor& dx, poplar::program::Sequence& prog, const std::string& name) {
    poplin::matMulAcc(graph, p.gradient, 1.0f, dy.transpose(), x, prog, name + "/weight_gradient");
    poplin::matMulAcc(graph, dx, 1.0f, dy, p.weight, prog, name + "/input_gradient");
}

}  // namespace ft5::t5
