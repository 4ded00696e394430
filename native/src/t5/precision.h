// The graph's number formats. FLOAT: everything in fp32. HALF, as the reference fine-tune of Flan-T5 ran on IPUs:
// weights and activations (and the activations' gradients) are HALF; matmuls accumulate their partials in FLOAT; the
// RMS norm's statistics, the softmax cross-entropy, the weights' gradient accumulators, the gradient norm and the
// AdamW moments are FLOAT. A HALF weight is
// updated in FLOAT and rounded back into HALF, to nearest or stochastically (a small update then moves the weight
// with the probability of its share of an ulp instead of vanishing), or kept in a FLOAT master copy that the HALF
// weight is rounded from.
#pragma once

#include <limits>
#include <string>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>
#include <popops/Cast.hpp>

namespace ft5::t5 {

// The changes Hugging Face and optimum-graphcore made to run T5 in fp16 (Flan-T5 was trained in bfloat16, and its
// feed-forward output passes fp16's 65504), each optional. They change the forward pass (and decoding); a session
// that trains runs as the reference fine-tune did, without them.
struct HalfMitigations {
    bool wo_in_float = false;        // the feed-forward's wo multiplies in FLOAT (Hugging Face's keep-in-fp32)
    bool wo_scaled = false;          // wo multiplies x / 8 in HALF, and its FLOAT output is x 8 (optimum-graphcore)
    bool residual_in_float = false;  // the residual stream is FLOAT; each layer norm gives HALF
    bool clamp = false;              // each residual add clamps to +-(65504 - 1000) (Hugging Face's T5 block)
    bool mask_scaled = false;        // the masks' minimum is 0.75 x fp16's lowest, so mask + bias stays finite
    bool gelu_limited = false;       // gelu only on -39 < x < 39, relu outside (x^3 passes 65504 beyond)

    bool any() const { return wo_in_float || wo_scaled || residual_in_float || clamp || mask_scaled || gelu_limited; }
};

inline constexpr float kHalfClamp = 65504.0f - 1000.0f;
inline constexpr float kGeluLimit = 39.0f;
inline constexpr float kWoScale = 8.0f;

struct Precision {
    bool half = false;
    bool stochastic_rounding = false;  // the HALF weights' update rounds stochastically (HALF only)
    // HALF only: AdamW updates a FLOAT master copy of each weight and rounds it to nearest into the HALF weight.
    bool master_weights = false;
    // Every program raises on the first overflow or NaN (poplar::FloatingPointBehaviour's oflo and inv).
    bool detect_overflow = false;
    HalfMitigations mitigations;  // HALF only
    // The forward program also sends its activations' largest |value| per module (activation_ranges.h).
    bool activation_ranges = false;

    poplar::Type type() const { return half ? poplar::HALF : poplar::FLOAT; }
    // The residual stream's type.
    poplar::Type residualType() const { return half && mitigations.residual_in_float ? poplar::FLOAT : type(); }
    // What the attention masks add to a masked score: Hugging Face's torch.finfo(dtype).min, or 0.75 of it.
    float maskMinimum() const {
        const float lowest = half ? -65504.0f : std::numeric_limits<float>::lowest();
        return half && mitigations.mask_scaled ? 0.75f * lowest : lowest;
    }
};

// t as `type`: t itself when it is, else a cast.
inline poplar::Tensor asType(poplar::Graph& graph, const poplar::Tensor& t, const poplar::Type& type,
                             poplar::program::Sequence& prog, const std::string& name) {
    return t.elementType() == type ? t : popops::cast(graph, t, type, prog, name);
}

// t as FLOAT (what the host reads, and where the FLOAT statistics begin).
inline poplar::Tensor asFloat(poplar::Graph& graph, const poplar::Tensor& t, poplar::program::Sequence& prog,
                              const std::string& name) {
    return asType(graph, t, poplar::FLOAT, prog, name);
}

}  // namespace ft5::t5
