#include "t5/dropout.h"

#include <stdexcept>

#include <popops/ElementWise.hpp>
#include <poprand/RandomGen.hpp>

namespace ft5::t5 {

Dropout::Dropout(poplar::Graph& graph, float rate, const poplar::Tensor& seed, const ReplicaGroups& groups)
    : graph_(graph), keep_(1.0 - double(rate)), seed_(seed), groups_(groups) {
    if (!(rate > 0.0f && rate < 1.0f))
        throw std::invalid_argument("T5 dropout: rate must be in (0, 1), got " + std::to_string(rate));
}

poplar::Tensor Dropout::forward(const poplar::Tensor& x, poplar::program::Sequence& prog, const std::string& name,
                                DropoutSite& site, bool split) {
    namespace pe = popops::expr;
    site.active = true;
    site.modifier = std::uint32_t(drawn_.size());
    if (split && groups_.tp() > 1) {
        const poplar::Tensor rank = groups_.shardOffset(1, prog, name + "/rank");
        const poplar::Tensor second_word =
            graph_.addConstant<unsigned>(poplar::UNSIGNED_INT, {2}, std::vector<unsigned>{0u, 1u}, name + "/second_word");
        graph_.setTileMapping(second_word, 0);
        shard_seeds_[site.modifier] = popops::map(graph_, pe::_1 + pe::_2 * pe::Cast(pe::_3, poplar::UNSIGNED_INT),
                                {seed_, second_word, rank}, prog, name + "/shard_seed");
    }
    const poplar::Tensor* seed = seedOf(site);
    const poplar::Tensor out = poprand::dropout(graph_, seed, site.modifier, x, x, keep_, 1.0 / keep_, prog, name);
    drawn_.push_back(Drawn{name, x, out});
    return out;
}

poplar::Tensor Dropout::backward(const poplar::Tensor& d_out, const DropoutSite& site, poplar::program::Sequence& prog,
                                 const std::string& name) const {
    return poprand::dropout(graph_, seedOf(site), site.modifier, d_out, d_out, keep_, 1.0 / keep_, prog, name);
}

const poplar::Tensor* Dropout::seedOf(const DropoutSite& site) const {
    const auto it = shard_seeds_.find(site.modifier);
    return it == shard_seeds_.end() ? &seed_ : &it->second;
}

poplar::Tensor dropoutForward(Dropout* dropout, const poplar::Tensor& x, poplar::program::Sequence& prog,
                              const std::string& name, DropoutSite& site, bool split) {
    if (site.replay) return site.active ? dropout->backward(x, site, prog, name) : x;
    site = DropoutSite{};
    return dropout ? dropout->forward(x, prog, name, site, split) : x;
}

poplar::Tensor dropoutBackward(const Dropout* dropout, const poplar::Tensor& d_out, const DropoutSite& site,
                               poplar::program::Sequence& prog, const std::string& name) {
    if (!site.active) return d_out;
    if (!dropout) throw std::logic_error("T5 dropout: " + name + " has a forward mask but no dropout to regenerate it");
    return dropout->backward(d_out, site, prog, name);
}

}  // namespace ft5::t5
