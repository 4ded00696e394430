// T5's relative position bias: a learned [num_buckets, heads] table, looked up by the bucket of each key's
// offset from its query. Bidirectional buckets (encoder) split the table between both directions; causal
// buckets (decoder) see only the past. The table lives in block 0 of each stack; every block reuses the bias.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parameters.h"

namespace ft5::t5 {

// Hugging Face's _relative_position_bucket for offset key - query, with its float32 logarithm.
unsigned relativePositionBucket(long offset, bool bidirectional, std::size_t buckets, std::size_t max_distance);

class PositionBias {
public:
    // The bias of q_len queries against k_len keys; queries sit at positions q_offset, q_offset + 1, ...
    PositionBias(poplar::Graph& graph, const Parameter& table, std::size_t q_len, std::size_t k_len,
                 std::size_t q_offset, bool bidirectional, std::size_t buckets, std::size_t max_distance,
                 const std::string& name);

    // [heads, q_len, k_len]
    poplar::Tensor forward(poplar::program::Sequence& prog) const;

    // Adds d(bias) [heads, q_len, k_len] into the table's gradient.
    void backward(const poplar::Tensor& d_bias, poplar::program::Sequence& prog) const;

private:
    poplar::Graph& graph_;
    const Parameter& table_;
    std::size_t q_len_, k_len_;
    std::string name_;
    poplar::Tensor buckets_;  // UNSIGNED_INT [q_len * k_len, 1]: the table row of each (query, key)
    poplar::Tensor one_;      // FLOAT scalar 1, the update's scale
};

}  // namespace ft5::t5
