#include "t5/linear.h"

#include <poplin/MatMul.hpp>

namespace ft5::t5 {

namespace {

// An op of the projection, named after its parameter as well ("encoder/block1/ff/wo
// [encoder.block.1.layer.1.DenseReluDense.wo]"): a floating-point exception's report then says which weight it was.
std::string opName(const Parameter& p, const std::string& name) {
    const std::string suffix = ".weight";
    const bool weight = p.name.size() > suffix.size() && p.name.compare(p.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    return name + " [" + (weight ? p.name.substr(0, p.name.size() - suffix.size()) : p.name) + "]";
}

}  // namespace

poplar::Tensor linear(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x,
                      poplar::program::Sequence& prog, const std::string& name) {
    // the output takes the operands' type; the partials are FLOAT (poplin's default)
    return poplin::matMul(graph, x, p.weight.transpose(), prog, x.elementType(), opName(p, name));
}

poplar::Tensor linearBackward(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x,
                              const poplar::Tensor& dy, poplar::program::Sequence& prog, const std::string& name) {
    poplin::matMulAcc(graph, p.gradient, 1.0f, dy.transpose(), x, prog, opName(p, name + "/weight_gradient"));
    return poplin::matMul(graph, dy, p.weight, prog, dy.elementType(), opName(p, name + "/input_gradient"));
}

void linearBackwardInto(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x, const poplar::Tensor& dy,
                        const poplar::Tensor& dx, poplar::program::Sequence& prog, const std::string& name) {
    poplin::matMulAcc(graph, p.gradient, 1.0f, dy.transpose(), x, prog, opName(p, name + "/weight_gradient"));
    poplin::matMulAcc(graph, dx, 1.0f, dy, p.weight, prog, opName(p, name + "/input_gradient"));
}

}  // namespace ft5::t5
