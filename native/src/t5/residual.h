// T5's residual stream: each layer adds its branch to it. In fp16 the stream may be FLOAT (a mitigation, the branch
// cast up) and the add may clamp to +-(65504 - 1000) before it rounds into HALF, so it cannot overflow
// (precision.h).
#pragma once

#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/precision.h"

namespace ft5::t5 {

// x + branch, of x's type: a new tensor.
poplar::Tensor residualAdd(poplar::Graph& graph, const Precision& precision, const poplar::Tensor& x,
                           const poplar::Tensor& branch, poplar::program::Sequence& prog, const std::string& name);

// The embedded tokens as the stream's first value (FLOAT when the stream is).
poplar::Tensor residualStream(poplar::Graph& graph, const Precision& precision, const poplar::Tensor& embedded,
                              poplar::program::Sequence& prog, const std::string& name);

}  // namespace ft5::t5
