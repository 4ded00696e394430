// A bias-free dense projection as T5 uses it: weight [out, in] in Hugging Face's layout, y = x W^T.
#pragma once

#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parameters.h"

namespace ft5::t5 {

// x [rows, in] -> [rows, out].
poplar::Tensor linear(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x,
                      poplar::program::Sequence& prog, const std::string& name);

// Adds dy^T x to p's gradient; returns dx = dy W ([rows, in]).
poplar::Tensor linearBackward(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x,
                              const poplar::Tensor& dy, poplar::program::Sequence& prog, const std::string& name);

// Adds dy^T x to p's gradient and dy W to dx.
void linearBackwardInto(poplar::Graph& graph, const Parameter& p, const poplar::Tensor& x, const poplar::Tensor& dy,
                        const poplar::Tensor& dx, poplar::program::Sequence& prog, const std::string& name);

}  // namespace ft5::t5
