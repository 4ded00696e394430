// T5's layer norm (T5LayerNorm): RMS normalisation without mean or bias, statistics in float32:
// y = w * x / sqrt(mean(x^2) + eps).
#pragma once

#include <string>

#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parameters.h"

namespace ft5::t5 {

// What the backward pass needs from the forward.
struct LayerNormSaved {
    poplar::Tensor x;        // [rows, d_model]
    poplar::Tensor inv_rms;  // [rows, 1]
};
// What the backward pass reads (for a pipeline's stash).
std::vector<poplar::Tensor> tensorsOf(const LayerNormSaved& saved);

poplar::Tensor layerNorm(poplar::Graph& graph, const Parameter& w, const poplar::Tensor& x, float eps,
                         poplar::program::Sequence& prog, const std::string& name, LayerNormSaved& saved);

// Adds the weight's gradient; returns dx.
poplar::Tensor layerNormBackward(poplar::Graph& graph, const Parameter& w, const LayerNormSaved& saved,
                                 const poplar::Tensor& dy, poplar::program::Sequence& prog, const std::string& name);

}  // namespace ft5::t5
