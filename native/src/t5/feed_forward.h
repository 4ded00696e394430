// T5's feed-forward layers: gated-gelu (T5DenseGatedActDense: wo(gelu_new(wi_0 x) * wi_1 x), gelu in its tanh
// form) and relu (T5DenseActDense: wo(relu(wi x))).
#pragma once

#include <string>

#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/dropout.h"
#include "t5/parameters.h"
#include "t5/precision.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

struct FeedForwardWeights {
    const Parameter* wi_0 = nullptr;  // gated: the gelu branch; relu: wi
    const Parameter* wi_1 = nullptr;  // gated only: the linear branch
    const Parameter* wo = nullptr;
};

struct FeedForwardSaved {
    poplar::Tensor x;       // [rows, d_model]
    poplar::Tensor pre;     // gated: wi_0 x (gelu's input); relu: relu(wi x)
    poplar::Tensor linear;  // gated: wi_1 x
    poplar::Tensor act;     // gated: gelu(wi_0 x); relu: unused
    poplar::Tensor hidden;  // wo's input [rows, d_ff], after dropout
    DropoutSite dropout;
};
std::vector<poplar::Tensor> tensorsOf(const FeedForwardSaved& saved);

// dropout (training) drops wo's input, as Hugging Face does after the activation (and gate).
// mitigations (fp16): wo in FLOAT or scaled (its output is then FLOAT), gelu limited to (-39, 39).
poplar::Tensor feedForward(poplar::Graph& graph, FeedForward kind, const HalfMitigations& mitigations,
                           const FeedForwardWeights& w, const poplar::Tensor& x, poplar::program::Sequence& prog, const std::string& name,
                           FeedForwardSaved& saved, Dropout* dropout = nullptr);

// Adds the weights' gradients; returns dx. dropout: the one the forward pass drew from (null without dropout).
poplar::Tensor feedForwardBackward(poplar::Graph& graph, FeedForward kind, const FeedForwardWeights& w,
                                   const FeedForwardSaved& saved, const poplar::Tensor& d_out,
                                   poplar::program::Sequence& prog, const std::string& name,
                                   const Dropout* dropout = nullptr);

}  // namespace ft5::t5
