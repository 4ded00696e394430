#include "t5/adamw.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include <poplar/CSRFunctions.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>
#include <poprand/RandomGen.hpp>

namespace ft5::t5 {

namespace pe = popops::expr;

namespace {

// Positions in the settings stream.
enum Setting : unsigned {
    kInverseScale,      // 1 / grad_scale
    kMaxNorm,           // max_grad_norm (0: no clipping)
    kStepSize,          // lr / (1 - beta1^step)
    kSqrtCorrection2,   // sqrt(1 - beta2^step)
    kOneMinusBeta1,
    kBeta2,
    kOneMinusBeta2,
    kEps,
    kDecayMultiplier,   // 1 - lr * weight_decay for the parameters that decay
    kExemptMultiplier,  // the same for the others: 1 unless every parameter decays
};

void bad(const char* field, double value, const char* expected) {
    throw std::invalid_argument(std::string("AdamW step: ") + field + " is " + std::to_string(value) + "; expected " +
                                expected);
}

}  // namespace

void AdamWStep::validate() const {
    if (step < 1) bad("step", double(step), "a 1-based step number >= 1");
    if (!(std::isfinite(learning_rate) && learning_rate >= 0)) bad("learning_rate", learning_rate, "finite >= 0");
    if (!(beta1 >= 0 && beta1 < 1)) bad("beta1", beta1, "0 <= beta1 < 1");
    if (!(beta2 >= 0 && beta2 < 1)) bad("beta2", beta2, "0 <= beta2 < 1");
    if (!(std::isfinite(eps) && eps >= 0)) bad("eps", eps, "finite >= 0");
    if (!(std::isfinite(weight_decay) && weight_decay >= 0)) bad("weight_decay", weight_decay, "finite >= 0");
    if (!(std::isfinite(grad_scale) && grad_scale > 0)) bad("grad_scale", grad_scale, "finite > 0");
    if (!(std::isfinite(max_grad_norm) && max_grad_norm >= 0)) bad("max_grad_norm", max_grad_norm, ">= 0");
}

std::array<float, AdamWStep::kCount> AdamWStep::streamValues() const {
    validate();
    // torch.optim.AdamW (single-tensor): Python doubles, cast to float where they meet a tensor
    const double bc1 = 1.0 - std::pow(beta1, double(step));
    const double bc2 = 1.0 - std::pow(beta2, double(step));
    const float decay = weight_decay > 0 ? float(1.0 - learning_rate * weight_decay) : 1.0f;
    std::array<float, kCount> v{};
    v[kInverseScale] = float(1.0 / grad_scale);
    v[kMaxNorm] = float(max_grad_norm);
    v[kStepSize] = float(learning_rate / bc1);
    v[kSqrtCorrection2] = float(std::sqrt(bc2));
    v[kOneMinusBeta1] = float(1.0 - beta1);
    v[kBeta2] = float(beta2);
    v[kOneMinusBeta2] = float(1.0 - beta2);
    v[kEps] = float(eps);
    v[kDecayMultiplier] = decay;
    v[kExemptMultiplier] = decay_all_parameters ? decay : 1.0f;
    return v;
}

bool decaysByDefault(const std::string& name) {
    return name.find("norm") == std::string::npos && name.find("bias") == std::string::npos;
}

AdamW::AdamW(poplar::Graph& graph, const Parameters& params, const ReplicaGroups& groups, bool stream_moments,
             bool stochastic_rounding, bool master_weights)
    : graph_(graph), params_(params), groups_(groups), master_(master_weights && params.type() == poplar::HALF) {
    for (const auto& p : params.all()) {
        Moments mo;
        mo.m = graph.addVariable(poplar::FLOAT, p.weight.shape(), poplar::VariableMappingMethod::LINEAR,
                                 firstMomentHandle(p.name));
        mo.v = graph.addVariable(poplar::FLOAT, p.weight.shape(), poplar::VariableMappingMethod::LINEAR,
                                 secondMomentHandle(p.name));
        if (master_)
            mo.master = graph.addVariable(poplar::FLOAT, p.weight.shape(), poplar::VariableMappingMethod::LINEAR,
                                          masterHandle(p.name));
        moments_.push_back(mo);
        if (stream_moments) {
            const std::size_t n = p.weight.numElements();
            remote_moments_.push_back({graph.addRemoteBuffer(firstMomentHandle(p.name), poplar::FLOAT, n),
                                       graph.addRemoteBuffer(secondMomentHandle(p.name), poplar::FLOAT, n),
                                       std::nullopt});
            if (master_) remote_moments_.back().master = graph.addRemoteBuffer(masterHandle(p.name), poplar::FLOAT, n);
            continue;
        }
        graph.setInitialValue<float>(mo.m, std::vector<float>(p.weight.numElements(), 0.0f));
        graph.setInitialValue<float>(mo.v, std::vector<float>(p.weight.numElements(), 0.0f));
        for (const auto& [handle, t] : {std::pair{firstMomentHandle(p.name), mo.m}, {secondMomentHandle(p.name), mo.v}}) {
            graph.createHostWrite(handle, t);
            graph.createHostRead(handle, t);
        }
        if (master_) {
            graph.createHostWrite(masterHandle(p.name), mo.master);
            graph.createHostRead(masterHandle(p.name), mo.master);
        }
    }
    settings_in_.emplace(graph.addHostToDeviceFIFO(streams::kOptimizerSettings, poplar::FLOAT, AdamWStep::kCount));
    result_out_.emplace(graph.addDeviceToHostFIFO(streams::kOptimizerResult, poplar::FLOAT, 2));
    settings_ = graph.addVariable(poplar::FLOAT, {AdamWStep::kCount}, poplar::VariableMappingMethod::LINEAR,
                                  "adamw/settings");
    if (stochastic_rounding && params.type() == poplar::HALF) {
        rounding_seed_in_.emplace(graph.addHostToDeviceFIFO(streams::kRoundingSeed, poplar::UNSIGNED_INT, 2));
        rounding_seed_ = graph.addVariable(poplar::UNSIGNED_INT, {2}, poplar::VariableMappingMethod::LINEAR,
                                           "adamw/rounding_seed");
    }
}

poplar::program::Sequence AdamW::step() const {
    using poplar::program::Copy;
    poplar::program::Sequence prog;
    prog.add(Copy(*settings_in_, settings_));
    auto s = [&](Setting i) { return settings_[i]; };

    // the global norm of the unscaled gradients: split parameters' squares summed over their shards
    auto scalar = [&](const char* name) {
        const poplar::Tensor t = graph_.addVariable(poplar::FLOAT, {}, poplar::VariableMappingMethod::LINEAR, name);
        popops::zero(graph_, t, prog, std::string(name) + "_zero");
        return t;
    };
    const poplar::Tensor sum_sq = scalar("adamw/sum_squares");
    const bool split = groups_.tp() > 1;
    const poplar::Tensor split_sum_sq = split ? scalar("adamw/split_sum_squares") : sum_sq;
    for (const auto& p : params_.all()) {
        // the whole batch's gradient: every data-parallel replica's rows
        fetchGradient(p, prog);
        groups_.sumOverData(p.gradient, prog, "adamw/" + p.name + "/sum_data");
        if (groups_.plan().dp > 1) storeGradient(p, prog);
        popops::reduceWithOutput(graph_, p.gradient.flatten(), p.split() ? split_sum_sq : sum_sq, {0},
                                 {popops::Operation::SQUARE_ADD, true}, prog, "adamw/" + p.name + "/sum_squares");
    }
    if (split) {
        groups_.sumOverShards(split_sum_sq, prog, "adamw/split_sum_squares_shards");
        popops::addInPlace(graph_, sum_sq, split_sum_sq, prog, "adamw/sum_squares_all");
    }
    const poplar::Tensor norm =
        popops::map(graph_, pe::Sqrt(pe::_1) * pe::_2, {sum_sq, s(kInverseScale)}, prog, "adamw/norm");
    // torch.nn.utils.clip_grad_norm_: max / (norm + 1e-6) when that is below 1
    const poplar::Tensor clip = popops::map(
        graph_,
        pe::Select(pe::Min(pe::Const(1.0f), pe::_2 / (pe::_1 + pe::Const(1e-6f))), pe::Const(1.0f),
                   pe::Gt(pe::_2, pe::Const(0.0f))),
        {norm, s(kMaxNorm)}, prog, "adamw/clip");
    const poplar::Tensor grad_mul = popops::mul(graph_, clip, s(kInverseScale), prog, "adamw/gradient_multiplier");
    const poplar::Tensor finite = popops::map(graph_, pe::IsFinite(pe::_1), {norm}, prog, "adamw/finite");

    poplar::program::Sequence update;
    if (roundsStochastically()) {
        update.add(Copy(*rounding_seed_in_, rounding_seed_));
        poprand::setSeed(graph_, rounding_seed_, 0, update, "adamw/rounding_seed");
        poplar::setStochasticRounding(graph_, update, true, "adamw/stochastic_rounding_on");
    }
    for (std::size_t i = 0; i < params_.all().size(); ++i) {
        const Parameter& p = params_.all()[i];
        const Moments& mo = moments_[i];
        const std::string name = "adamw/" + p.name;
        const poplar::Tensor decay = decaysByDefault(p.name) ? s(kDecayMultiplier) : s(kExemptMultiplier);
        fetch({&p}, update, true);
        if (streamsMoments()) {
            update.add(Copy(remote_moments_[i].m, mo.m, {name + "/fetch_m"}));
            update.add(Copy(remote_moments_[i].v, mo.v, {name + "/fetch_v"}));
            if (master_) update.add(Copy(*remote_moments_[i].master, mo.master, {name + "/fetch_master"}));
        }
        // One pass over the parameter: m, v and w are written together, and every expression reads the values
        // from before the map (as the SDK's fused map does), so w's update is written with the new m and v. A
        // HALF weight and gradient are read as FLOAT and the new weight rounds into HALF once, at the end.
        const auto g = pe::Cast(pe::_4, poplar::FLOAT) * pe::_5;  // the unscaled, clipped gradient
        // m = lerp(m, g, 1 - beta1)
        const auto m = pe::_2 + pe::_6 * (g - pe::_2);
        const auto v = pe::_3 * pe::_7 + (pe::_8 * g) * g;
        // w = w (1 - lr wd) - step_size m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
        // with a master copy, the master is updated (in FLOAT) and the HALF weight rounded from it
        const poplar::Tensor& updated = master_ ? mo.master : p.weight;
        const auto w = pe::Cast(pe::Cast(pe::_1, poplar::FLOAT) * pe::_9 + (-pe::_10 * m) / (pe::Sqrt(v) / pe::_11 + pe::_12),
                                updated.elementType());
        popops::mapInPlace(graph_, {w, m, v},
                           {updated, mo.m, mo.v, p.gradient, grad_mul, s(kOneMinusBeta1), s(kBeta2), s(kOneMinusBeta2),
                            decay, s(kStepSize), s(kSqrtCorrection2), s(kEps)},
                           update, name + "/update");
        if (master_)
            popops::mapWithOutput(graph_, pe::Cast(pe::_1, p.weight.elementType()), {mo.master}, p.weight, update,
                                  name + "/round_master");
        storeWeight(p, update);
        if (streamsMoments()) {
            update.add(Copy(mo.m, remote_moments_[i].m, {name + "/store_m"}));
            update.add(Copy(mo.v, remote_moments_[i].v, {name + "/store_v"}));
            if (master_) update.add(Copy(mo.master, *remote_moments_[i].master, {name + "/store_master"}));
        }
    }
    if (roundsStochastically()) poplar::setStochasticRounding(graph_, update, false, "adamw/stochastic_rounding_off");
    prog.add(poplar::program::If(finite, update, poplar::program::Sequence()));
    const poplar::Tensor skipped =
        popops::map(graph_, pe::Cast(pe::Not(pe::_1), poplar::FLOAT), {finite}, prog, "adamw/skipped");
    prog.add(Copy(poplar::concat(norm.reshape({1}), skipped.reshape({1})), *result_out_));
    return prog;
}

}  // namespace ft5::t5
