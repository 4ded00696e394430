// The model's parameters as graph variables: each has a weight and a gradient of the same shape, named as in
// Hugging Face's state dict. The host writes weights through the handle "weight/<name>" and reads gradients
// through "gradient/<name>" (Engine::writeTensor / readTensor).
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

namespace ft5::t5 {

struct Parameter {
    std::string name;
    poplar::Tensor weight;
    poplar::Tensor gradient;
};

class Parameters {
public:
    explicit Parameters(poplar::Graph& graph) : graph_(graph) {}

    // A FLOAT weight and its gradient, spread over the tiles.
    const Parameter& add(const std::string& name, const std::vector<std::size_t>& shape);
    const Parameter& at(const std::string& name) const;
    const std::deque<Parameter>& all() const { return params_; }

    // Sets every gradient to zero (run before the first micro-batch whose gradients accumulate).
    poplar::program::Sequence zeroGradients() const;

    static std::string weightHandle(const std::string& name) { return "weight/" + name; }
    static std::string gradientHandle(const std::string& name) { return "gradient/" + name; }

private:
    poplar::Graph& graph_;
    std::deque<Parameter> params_;  // a deque: references stay valid as parameters are added
    std::map<std::string, std::size_t> index_;
};

}  // namespace ft5::t5
