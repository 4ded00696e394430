#include "t5/stages.h"

#include <stdexcept>

namespace ft5::t5 {

poplar::program::Sequence& SegmentChain::on(std::size_t stage) {
    if (segments_.empty() || segments_.back().first != stage) {
        segments_.emplace_back(stage, poplar::program::Sequence());
        transfers_.emplace_back();
    }
    return segments_.back().second;
}

void SegmentChain::recordTransfer(const Staged& from, std::size_t stage) {
    on(stage);
    transfers_.back().received.push_back(from);
}

void SegmentChain::recordReuse(const poplar::Tensor& t, std::size_t stage) {
    on(stage);
    transfers_.back().reused.push_back(t);
}

std::vector<std::uint32_t> SegmentChain::stages() const {
    std::vector<std::uint32_t> out;
    for (const auto& s : segments_) out.push_back(std::uint32_t(s.first));
    return out;
}

poplar::program::Sequence SegmentChain::all() const {
    poplar::program::Sequence prog;
    for (const auto& s : segments_) prog.add(s.second);
    return prog;
}

Stages::Stages(poplar::Graph& replica_graph, std::size_t count) : replica_graph_(replica_graph) {
    const poplar::Target& target = replica_graph.getTarget();
    if (count == 0 || target.getNumIPUs() != count)
        throw std::invalid_argument("plan.pp is " + std::to_string(count) + "; the replica's target has " +
                                    std::to_string(target.getNumIPUs()) + " IPUs, one per pipeline stage");
    if (count == 1) return;
    const unsigned tiles = target.getTilesPerIPU();
    for (std::size_t s = 0; s < count; ++s)
        graphs_.push_back(replica_graph.createVirtualGraph(unsigned(s) * tiles, unsigned(s + 1) * tiles));
}

poplar::Graph& Stages::graph(std::size_t stage) {
    if (graphs_.empty()) {
        if (stage != 0) throw std::out_of_range("pipeline stage " + std::to_string(stage) + " of 1");
        return replica_graph_;
    }
    return graphs_.at(stage);
}

Staged Stages::to(const Staged& t, std::size_t stage, SegmentChain& chain, const std::string& name) {
    if (!t.tensor.valid()) return Staged{t.tensor, stage};
    if (t.stage == stage) {
        chain.recordReuse(t.tensor, stage);
        return t;
    }
    poplar::Tensor copy = graph(stage).addVariable(t.tensor.elementType(), t.tensor.shape(),
                                                   poplar::VariableMappingMethod::LINEAR, name);
    chain.on(stage).add(poplar::program::Copy(t.tensor, copy));
    chain.recordTransfer(t, stage);
    return Staged{copy, stage};
}

}  // namespace ft5::t5
