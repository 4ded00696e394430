// The training loss: mean cross-entropy of the logits against the labels over the labels that are not -100
// (Hugging Face's CrossEntropyLoss(ignore_index=-100)). Under tensor parallelism it is Megatron's vocabulary-parallel
// cross-entropy: each rank holds its shard's logits, and the row maximum, the softmax's sum and the label's logit
// meet in all-reduces over the shards; under data parallelism the loss and the label count are those of every
// replica's rows together.
#pragma once

#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parallel.h"

namespace ft5::t5 {

constexpr int kIgnoreLabel = -100;

struct CrossEntropy {
    poplar::Tensor loss;      // FLOAT scalar: total / count
    poplar::Tensor total;     // FLOAT scalar: the summed loss of the counted labels (of every data-parallel replica)
    poplar::Tensor count;     // FLOAT scalar: how many labels count (of every data-parallel replica)
    poplar::Tensor d_logits;  // d(loss)/d(logits), or d(total)/d(logits), [rows, shard]; empty unless asked for
};

// logits FLOAT [rows, shard] (the shard of a vocabulary of `vocab` tokens padded to tp shards; the whole vocabulary
// with one rank), labels INT [rows]. mean_gradient: d_logits is the gradient of the mean loss; else of the total
// (micro-batches whose gradients add up before one division by the step's count).
CrossEntropy crossEntropy(poplar::Graph& graph, const poplar::Tensor& logits, const poplar::Tensor& labels,
                          bool with_gradient, poplar::program::Sequence& prog, bool mean_gradient,
                          const ReplicaGroups& groups, std::size_t vocab);

}  // namespace ft5::t5
