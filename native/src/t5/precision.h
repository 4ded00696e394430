// The graph's number formats. FLOAT: everything in fp32. HALF, as the reference fine-tune of Flan-T5 ran on IPUs:
// weights, activations and gradients are HALF; matmuls accumulate their partials in FLOAT; the RMS norm's
// statistics, the softmax cross-entropy, the gradient norm and the AdamW moments are FLOAT. A HALF weight is
// updated in FLOAT and rounded back into HALF, to nearest or stochastically (a small update then moves the weight
// with the probability of its share of an ulp instead of vanishing).
#pragma once

#include <limits>
#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>
#include <popops/Cast.hpp>

namespace ft5::t5 {

struct Precision {
    bool half = false;
    bool stochastic_rounding = false;  // the HALF weights' update rounds stochastically (HALF only)

    poplar::Type type() const { return half ? poplar::HALF : poplar::FLOAT; }
};

// The most negative finite value of a FLOAT or HALF tensor: Hugging Face's torch.finfo(dtype).min, which masks.
inline float lowestOf(const poplar::Type& type) {
    return type == poplar::HALF ? -65504.0f : std::numeric_limits<float>::lowest();
}

// t as FLOAT: t itself when it is, else a cast (what the host reads, and where the FLOAT statistics begin).
inline poplar::Tensor asFloat(poplar::Graph& graph, const poplar::Tensor& t, poplar::program::Sequence& prog,
                              const std::string& name) {
    return t.elementType() == poplar::FLOAT ? t : popops::cast(graph, t, poplar::FLOAT, prog, name);
}

// t as `type`: t itself when it is, else a cast.
inline poplar::Tensor asType(poplar::Graph& graph, const poplar::Tensor& t, const poplar::Type& type,
                             poplar::program::Sequence& prog, const std::string& name) {
    return t.elementType() == type ? t : popops::cast(graph, t, type, prog, name);
}

}  // namespace ft5::t5
