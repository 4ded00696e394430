// T5's multi-head attention (T5Attention): q, k, v and o projections without bias, scores q k^T with no
// 1/sqrt(d_kv) scaling, plus an additive bias that carries the relative positions and the masks.
#pragma once

#include <cstddef>
#include <string>

#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/dropout.h"
#include "t5/parameters.h"

namespace ft5::t5 {

struct AttentionWeights {
    const Parameter* q = nullptr;
    const Parameter* k = nullptr;
    const Parameter* v = nullptr;
    const Parameter* o = nullptr;
};

struct AttentionShape {
    std::size_t batch = 0, q_len = 0, k_len = 0, heads = 0, d_kv = 0;
};

struct AttentionSaved {
    poplar::Tensor x;      // queries' input [batch * q_len, d_model]
    poplar::Tensor kv;     // keys' and values' input [batch * k_len, d_model]
    poplar::Tensor q;      // [batch * heads, q_len, d_kv]
    poplar::Tensor k;      // [batch * heads, k_len, d_kv]
    poplar::Tensor v;      // [batch * heads, k_len, d_kv]
    poplar::Tensor probs;  // the softmax [batch, heads, q_len, k_len]
    poplar::Tensor applied_probs;  // what multiplies v: probs after dropout (probs itself without)
    DropoutSite probs_dropout;
    poplar::Tensor context;  // [batch * q_len, heads * d_kv]
};
std::vector<poplar::Tensor> tensorsOf(const AttentionSaved& saved);

struct AttentionGradients {
    poplar::Tensor x;       // d(queries' input)
    poplar::Tensor kv;      // d(keys' and values' input); the same tensor as x for self-attention
    poplar::Tensor scores;  // d(scores) [batch, heads, q_len, k_len], the bias's gradient before its sum over rows
};

// Hugging Face's extended attention mask: (1 - mask) * minimum (Precision::maskMinimum), added to the scores. mask:
// INT [batch * len] (1: attend, 0: padding); returns [batch, 1, 1, len] of `type`, the scores'.
poplar::Tensor maskBias(poplar::Graph& graph, const poplar::Tensor& mask, std::size_t batch, std::size_t len,
                        const poplar::Type& type, float minimum, poplar::program::Sequence& prog,
                        const std::string& name);

// [batch * len, heads * d_kv] -> [batch * heads, len, d_kv], and back.
poplar::Tensor splitHeads(const poplar::Tensor& t, const AttentionShape& s, std::size_t len);
poplar::Tensor mergeHeads(const poplar::Tensor& t, const AttentionShape& s, std::size_t len);

// softmax(q k^T + bias) v: q [batch * heads, q_len, d_kv], k and v [batch * heads, k_len, d_kv], bias broadcasting
// to [batch, heads, q_len, k_len]. Returns the context [batch * q_len, heads * d_kv]; saved, when given, gets the
// probabilities (and their dropout, when dropout is given).
poplar::Tensor attend(poplar::Graph& graph, const AttentionShape& s, const poplar::Tensor& q, const poplar::Tensor& k,
                      const poplar::Tensor& v, const poplar::Tensor& bias, poplar::program::Sequence& prog,
                      const std::string& name, AttentionSaved* saved = nullptr, Dropout* dropout = nullptr);

// bias broadcasts to [batch, heads, q_len, k_len]. kv is x for self-attention. dropout (training) drops
// attention probabilities, as Hugging Face's T5Attention does.
poplar::Tensor attention(poplar::Graph& graph, const AttentionWeights& w, const AttentionShape& s,
                         const poplar::Tensor& x, const poplar::Tensor& kv, const poplar::Tensor& bias,
                         poplar::program::Sequence& prog, const std::string& name, AttentionSaved& saved,
                         Dropout* dropout = nullptr);

// dropout: the one the forward pass drew its masks from (null without dropout).

// self_attention: x and kv are one tensor, and their gradients are summed into one.
AttentionGradients attentionBackward(poplar::Graph& graph, const AttentionWeights& w, const AttentionShape& s,
                                     const AttentionSaved& saved, const poplar::Tensor& d_out, bool self_attention,
                                     poplar::program::Sequence& prog, const std::string& name,
                                     const Dropout* dropout = nullptr);

}  // namespace ft5::t5
