#include "t5/dropout.h"

#include <stdexcept>

#include <poprand/RandomGen.hpp>

namespace ft5::t5 {

Dropout::Dropout(poplar::Graph& graph, float rate, const poplar::Tensor& seed)
    : graph_(graph), keep_(1.0 - double(rate)), seed_(seed) {
    if (!(rate > 0.0f && rate < 1.0f))
        throw std::invalid_argument("T5 dropout: rate must be in (0, 1), got " + std::to_string(rate));
}

poplar::Tensor Dropout::forward(const poplar::Tensor& x, poplar::program::Sequence& prog, const std::string& name,
                                DropoutSite& site) {
    site.active = true;
    site.modifier = std::uint32_t(drawn_.size());
    const poplar::Tensor out = poprand::dropout(graph_, &seed_, site.modifier, x, x, keep_, 1.0 / keep_, prog, name);
    drawn_.push_back(Drawn{name, x, out});
    return out;
}

poplar::Tensor Dropout::backward(const poplar::Tensor& d_out, const DropoutSite& site, poplar::program::Sequence& prog,
                                 const std::string& name) const {
    return poprand::dropout(graph_, &seed_, site.modifier, d_out, d_out, keep_, 1.0 / keep_, prog, name);
}

poplar::Tensor dropoutForward(Dropout* dropout, const poplar::Tensor& x, poplar::program::Sequence& prog,
                              const std::string& name, DropoutSite& site) {
    site = DropoutSite{};
    return dropout ? dropout->forward(x, prog, name, site) : x;
}

poplar::Tensor dropoutBackward(const Dropout* dropout, const poplar::Tensor& d_out, const DropoutSite& site,
                               poplar::program::Sequence& prog, const std::string& name) {
    if (!site.active) return d_out;
    if (!dropout) throw std::logic_error("T5 dropout: " + name + " has a forward mask but no dropout to regenerate it");
    return dropout->backward(d_out, site, prog, name);
}

}  // namespace ft5::t5
