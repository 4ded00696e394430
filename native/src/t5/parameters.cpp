#include "t5/parameters.h"

#include <stdexcept>

#include <popops/Zero.hpp>

namespace ft5::t5 {

const Parameter& Parameters::add(const std::string& name, const std::vector<std::size_t>& logical_shape,
                                 int split_dim, std::size_t stage) {
    if (index_.count(name)) throw std::logic_error("parameter " + name + " added twice");
    Parameter p;
    p.name = name;
    p.logical_shape = logical_shape;
    p.parallel_dim = split_dim;
    std::vector<std::size_t> shape = logical_shape;
    if (tp_ > 1 && split_dim >= 0) {
        p.split_dim = split_dim;
        p.shard_extent = (shape.at(std::size_t(split_dim)) + tp_ - 1) / tp_;
        shape[std::size_t(split_dim)] = p.shard_extent;
    }
    p.stage = stage;
    poplar::Graph& graph = stages_.graph(stage);
    p.weight = graph.addVariable(type_, shape, poplar::VariableMappingMethod::LINEAR, name);
    if (with_gradients_)
        p.gradient = graph.addVariable(poplar::FLOAT, shape, poplar::VariableMappingMethod::LINEAR, name + "/gradient");
    if (streamed_) {
        // the host reaches them through the remote buffers (Engine::copyToRemoteBuffer)
        p.remote_weight = graph.addRemoteBuffer(weightHandle(name), type_, p.weight.numElements());
        if (with_gradients_)
            p.remote_gradient = graph.addRemoteBuffer(gradientHandle(name), poplar::FLOAT, p.gradient.numElements());
    } else {
        graph.createHostWrite(weightHandle(name), p.weight);
        graph.createHostRead(weightHandle(name), p.weight);
        if (with_gradients_) {
            graph.createHostWrite(gradientHandle(name), p.gradient);
            graph.createHostRead(gradientHandle(name), p.gradient);
        }
    }
    index_.emplace(name, params_.size());
    params_.push_back(std::move(p));
    return params_.back();
}

const Parameter& Parameters::at(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::invalid_argument("the T5 graph has no parameter named " + name);
    return params_[it->second];
}

poplar::program::Sequence Parameters::zeroGradients() const {
    poplar::program::Sequence prog;
    for (const auto& p : params_) {
        popops::zero(stages_.graph(p.stage), p.gradient, prog, p.name + "/zero_gradient");
        storeGradient(p, prog);
    }
    return prog;
}

void fetch(const Parameter& p, poplar::program::Sequence& prog) {
    if (p.streamed()) prog.add(poplar::program::Copy(*p.remote_weight, p.weight, {p.name + "/fetch"}));
}

void fetchGradient(const Parameter& p, poplar::program::Sequence& prog) {
    if (p.streamed()) prog.add(poplar::program::Copy(*p.remote_gradient, p.gradient, {p.name + "/fetch_gradient"}));
}

void storeGradient(const Parameter& p, poplar::program::Sequence& prog) {
    if (p.streamed()) prog.add(poplar::program::Copy(p.gradient, *p.remote_gradient, {p.name + "/store_gradient"}));
}

void storeWeight(const Parameter& p, poplar::program::Sequence& prog) {
    if (p.streamed()) prog.add(poplar::program::Copy(p.weight, *p.remote_weight, {p.name + "/store"}));
}

void fetch(const std::vector<const Parameter*>& params, poplar::program::Sequence& prog, bool with_gradients) {
    for (const Parameter* p : params) {
        fetch(*p, prog);
        if (with_gradients) fetchGradient(*p, prog);
    }
}

void storeGradients(const std::vector<const Parameter*>& params, poplar::program::Sequence& prog) {
    for (const Parameter* p : params) storeGradient(*p, prog);
}

}  // namespace ft5::t5
