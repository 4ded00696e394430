// The largest |value| of the forward pass's activations, per Hugging Face module ("encoder.block.1.layer.1.
// DenseReluDense.wo": that projection's output; "encoder.block.1.layer.1": the residual stream after the layer), in
// FLOAT: how near an fp16 model comes to 65504, layer by layer. Each site is a maximum over this replica's rows and
// over the tensor-parallel shards; the forward program sends every site's value at its end (stream
// kActivationRanges, one FLOAT per site in sites() order; the host takes the maximum over the data-parallel replicas).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <poplar/DataStream.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parallel.h"
#include "t5/stages.h"

namespace ft5::t5 {

namespace streams {
inline constexpr const char* kActivationRanges = "activation_ranges";
}  // namespace streams

class ActivationRanges {
public:
    explicit ActivationRanges(const ReplicaGroups& groups) : groups_(groups) {}

    // Adds site `name`: max |t| over all of t, computed on `stage` when prog runs.
    void record(poplar::Graph& graph, std::size_t stage, const std::string& name, const poplar::Tensor& t,
                poplar::program::Sequence& prog);
    // Gathers the sites' maxima on stage 0 and sends them through `stream` (the forward pass's last segment there).
    void send(Stages& stages, SegmentChain& chain, const poplar::DataStream& stream);

    const std::vector<std::string>& sites() const { return names_; }

private:
    const ReplicaGroups& groups_;
    std::vector<std::string> names_;
    std::vector<Staged> maxima_;  // FLOAT [1] on each site's stage
};

}  // namespace ft5::t5
