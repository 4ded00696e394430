// Test helper: one AdamW step on the host in float64, written from the formula ft5.h documents for
// ft5_optimizer_step (torch.optim.AdamW's order of operations): the gradients divided by grad_scale, clipped to
// max_grad_norm by their global norm (torch's clip_grad_norm_: max / (norm + 1e-6) when below 1), the moments
// updated, decoupled weight decay for the parameters that decay, and the bias-corrected step.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "ft5/ft5.h"

namespace ft5::test {

struct HostParam {
    std::vector<double> weight, gradient, m, v;  // m, v: zero before the first step
    bool decays = true;                          // false for no_weight_decay parameters
};

// Updates every parameter in place; returns the global norm of the unscaled gradients.
inline double host_adamw_step(std::vector<HostParam>& params, const ft5_optimizer_step& s) {
    double sum_sq = 0;
    for (const HostParam& p : params)
        for (double g : p.gradient) sum_sq += g * g;
    const double grad_scale = s.grad_scale, norm = std::sqrt(sum_sq) / grad_scale;
    const double clip = s.max_grad_norm > 0 ? std::min(1.0, double(s.max_grad_norm) / (norm + 1e-6)) : 1.0;
    const double multiplier = clip / grad_scale;
    const double beta1 = s.beta1, beta2 = s.beta2, lr = s.learning_rate, eps = s.eps;
    const double bc1 = 1 - std::pow(beta1, double(s.step)), bc2 = 1 - std::pow(beta2, double(s.step));
    for (HostParam& p : params) {
        const double decay = (p.decays || s.decay_all_parameters == 1) ? 1 - lr * double(s.weight_decay) : 1.0;
        if (p.m.empty()) p.m.assign(p.weight.size(), 0.0);
        if (p.v.empty()) p.v.assign(p.weight.size(), 0.0);
        for (size_t i = 0; i < p.weight.size(); ++i) {
            const double g = p.gradient[i] * multiplier;
            p.m[i] += (1 - beta1) * (g - p.m[i]);
            p.v[i] = beta2 * p.v[i] + (1 - beta2) * g * g;
            p.weight[i] = p.weight[i] * decay - lr / bc1 * p.m[i] / (std::sqrt(p.v[i]) / std::sqrt(bc2) + eps);
        }
    }
    return norm;
}

}  // namespace ft5::test
