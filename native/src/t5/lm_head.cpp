#include "t5/lm_head.h"

#include <cmath>

#include <popops/ElementWise.hpp>

#include "t5/linear.h"

namespace ft5::t5 {

LmHead::LmHead(const Parameter& weight, bool tied, std::size_t d_model, const ReplicaGroups& groups)
    : weight_(weight), groups_(groups), scale_(tied ? float(1.0 / std::sqrt(double(d_model))) : 1.0f) {}

poplar::Tensor LmHead::forward(poplar::Graph& graph, const poplar::Tensor& y, poplar::program::Sequence& prog) {
    fetch(weight_, prog);
    input_ = scale_ == 1.0f ? y : popops::mul(graph, y, scale_, prog, "lm_head/rescale");
    return linear(graph, weight_, input_, prog, "lm_head");
}

poplar::Tensor LmHead::backward(poplar::Graph& graph, const poplar::Tensor& d_logits, poplar::program::Sequence& prog) {
    fetch(weight_, prog);
    fetchGradient(weight_, prog);
    const poplar::Tensor d_input = linearBackward(graph, weight_, input_, d_logits, prog, "lm_head");
    storeGradient(weight_, prog);
    groups_.sumOverShards(d_input, prog, "lm_head/d_sum_shards");
    if (scale_ == 1.0f) return d_input;
    popops::mulInPlace(graph, d_input, scale_, prog, "lm_head/d_rescale");
    return d_input;
}

}  // namespace ft5::t5
