// The model's parameters as graph variables: each has a weight and a gradient of the same shape, named as in
// Hugging Face's state dict. The host writes weights through the handle "weight/<name>" and reads gradients
// through "gradient/<name>" (Engine::writeTensor / readTensor). Under tensor parallelism a parameter may be split
// along one dimension: each replica's variable is its shard (shard_layout.h maps shards to the logical tensor).
// Under data parallelism a replica's gradients hold its own rows' part until the optimizer step sums them.
// Under pipeline parallelism each parameter lives on its layer's stage (stages.h).
// Phased execution (streamed parameters): the weight and the gradient live in streaming memory, RemoteBuffers
// with the same handles, and their variables hold them on chip only for a phase: from a fetch to the phase's last
// use (a gradient goes back with a store). Each layer fetches what it uses; for an on-chip parameter the fetches
// and stores add nothing to the program.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <poplar/DataStream.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/stages.h"

namespace ft5::t5 {

struct Parameter {
    std::string name;
    poplar::Tensor weight;    // this replica's shard (the whole tensor when not split)
    poplar::Tensor gradient;
    std::vector<std::size_t> logical_shape;  // Hugging Face's shape
    int split_dim = -1;       // the dimension split across the tensor-parallel ranks; -1: whole on every rank
    std::size_t shard_extent = 0;  // the split dimension's extent in each shard (the last may hold zero padding)
    int parallel_dim = -1;    // the dimension tensor parallelism splits, with any number of ranks (split_dim: this one)
    std::size_t stage = 0;    // the pipeline stage (the IPU of the replica) holding it
    // Set for a streamed parameter: where its weight and gradient live between phases.
    std::optional<poplar::RemoteBuffer> remote_weight, remote_gradient;

    bool split() const { return split_dim >= 0; }
    bool streamed() const { return remote_weight.has_value(); }
};

// A phase's copies between streaming memory and the parameter's variables; nothing for an on-chip parameter.
void fetch(const Parameter& p, poplar::program::Sequence& prog);
void fetchGradient(const Parameter& p, poplar::program::Sequence& prog);
void storeGradient(const Parameter& p, poplar::program::Sequence& prog);
void storeWeight(const Parameter& p, poplar::program::Sequence& prog);
// A layer's parameters: the weights, and for its backward pass the gradients too (stored by storeGradients).
void fetch(const std::vector<const Parameter*>& params, poplar::program::Sequence& prog, bool with_gradients = false);
void storeGradients(const std::vector<const Parameter*>& params, poplar::program::Sequence& prog);

class Parameters {
public:
    // tp: the tensor-parallel ranks a split parameter is divided among. streamed: phased execution (above).
    // with_gradients: each weight has its gradient (not for inference). type: the weights' (FLOAT or HALF,
    // precision.h); the gradients are FLOAT whatever it is: they accumulate a step's micro-batches, whose small
    // contributions HALF would lose.
    explicit Parameters(Stages& stages, std::size_t tp = 1, bool streamed = false, bool with_gradients = true,
                        poplar::Type type = poplar::FLOAT)
        : stages_(stages), tp_(tp), streamed_(streamed), with_gradients_(with_gradients), type_(type) {}

    poplar::Type type() const { return type_; }

    // A weight of type() and its FLOAT gradient (when the parameters have them), spread over the tiles of `stage`. split_dim >= 0 splits that dimension into
    // tp shards of ceil(extent / tp) (with one rank, nothing is split).
    const Parameter& add(const std::string& name, const std::vector<std::size_t>& shape, int split_dim = -1,
                         std::size_t stage = 0);
    const Parameter& at(const std::string& name) const;
    const std::deque<Parameter>& all() const { return params_; }

    // Sets every gradient to zero (run before the first micro-batch whose gradients accumulate); a streamed one is
    // zeroed on chip and stored.
    poplar::program::Sequence zeroGradients() const;

    static std::string weightHandle(const std::string& name) { return "weight/" + name; }
    static std::string gradientHandle(const std::string& name) { return "gradient/" + name; }

private:
    Stages& stages_;
    std::size_t tp_;
    bool streamed_;
    bool with_gradients_;
    poplar::Type type_;
    std::deque<Parameter> params_;  // a deque: references stay valid as parameters are added
    std::map<std::string, std::size_t> index_;
};

}  // namespace ft5::t5
