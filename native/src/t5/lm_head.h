// The LM head: logits = y W^T over the vocabulary. Tied to the shared embedding, the decoder's output is first
// scaled by d_model^-0.5 (as Hugging Face does); an untied lm_head.weight is used as it is. Under tensor
// parallelism each rank's logits are those of its vocabulary shard.
#pragma once

#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parallel.h"
#include "t5/parameters.h"

namespace ft5::t5 {

class LmHead {
public:
    // weight: lm_head.weight, or shared.weight when tied (this replica's shard of either).
    LmHead(const Parameter& weight, bool tied, std::size_t d_model, const ReplicaGroups& groups);

    // y [rows, d_model] -> logits [rows, vocab rows of the shard]
    poplar::Tensor forward(poplar::Graph& graph, const poplar::Tensor& y, poplar::program::Sequence& prog);

    // Adds the weight's gradient; returns d(y) (summed over the shards).
    poplar::Tensor backward(poplar::Graph& graph, const poplar::Tensor& d_logits, poplar::program::Sequence& prog);
    // The input the last forward kept for the backward pass.
    const poplar::Tensor& input() const { return input_; }

private:
    const Parameter& weight_;
    const ReplicaGroups& groups_;
    float scale_;  // d_model^-0.5 when tied, else 1
    poplar::Tensor input_;  // the scaled y
};

}  // namespace ft5::t5
