// The training loss: mean cross-entropy of the logits against the labels over the labels that are not -100
// (Hugging Face's CrossEntropyLoss(ignore_index=-100)).
#pragma once

#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

namespace ft5::t5 {

constexpr int kIgnoreLabel = -100;

struct CrossEntropy {
    poplar::Tensor loss;      // FLOAT scalar: total / count
    poplar::Tensor total;     // FLOAT scalar: the summed loss of the counted labels
    poplar::Tensor count;     // FLOAT scalar: how many labels count
    poplar::Tensor d_logits;  // d(loss)/d(logits), or d(total)/d(logits), [rows, vocab]; empty unless asked for
};

// logits FLOAT [rows, vocab], labels INT [rows]. mean_gradient: d_logits is the gradient of the mean loss; else
// of the total (micro-batches whose gradients add up before one division by the step's count).
CrossEntropy crossEntropy(poplar::Graph& graph, const poplar::Tensor& logits, const poplar::Tensor& labels,
                          bool with_gradient, poplar::program::Sequence& prog, bool mean_gradient = true);

}  // namespace ft5::t5
