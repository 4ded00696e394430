#include "t5/activation_ranges.h"

#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>

namespace ft5::t5 {

namespace pe = popops::expr;

void ActivationRanges::record(poplar::Graph& graph, std::size_t stage, const std::string& name,
                              const poplar::Tensor& t, poplar::program::Sequence& prog) {
    const std::string op = "activation_range/" + name;
    const poplar::Tensor magnitude =
        popops::map(graph, pe::Abs(pe::Cast(pe::_1, poplar::FLOAT)), {t.flatten()}, prog, op + "/abs");
    const poplar::Tensor max =
        popops::reduce(graph, magnitude, poplar::FLOAT, {0}, popops::Operation::MAX, prog, op + "/max").reshape({1});
    // a split activation (a projection's output shard) is the largest of its shards'
    groups_.maxOverShards(max, prog, op + "/max_shards");
    names_.push_back(name);
    maxima_.push_back({max, stage});
}

void ActivationRanges::send(Stages& stages, SegmentChain& chain, const poplar::DataStream& stream) {
    std::vector<poplar::Tensor> here;
    for (std::size_t i = 0; i < maxima_.size(); ++i)
        here.push_back(stages.to(maxima_[i], 0, chain, "activation_range/" + names_[i] + "/to_stage0").tensor);
    chain.on(0).add(poplar::program::Copy(poplar::concat(here), stream));
}

}  // namespace ft5::t5
