#include "model/adamw.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "abi/error.h"
#include "model/weight_phase.h"

namespace ft5::model {

ft5_step_result adamw_step(ThreadPool& pool, ParameterTable& params, const ft5_optimizer_step& s) {
    // The settings were checked at the ABI (session_api.cpp), in front of either session.
    ft5_step_result result{};
    result.struct_size = sizeof(ft5_step_result);

    // Global norm of the unscaled gradient, fp64.
    const double inv_scale = 1.0 / double(s.grad_scale);
    double sum_sq = 0;
    // Replica 0's shards (every replica holds the same reduced gradient); a replicated tensor counts once.
    for (size_t i = 0; i < params.size(); ++i) {
        Parameter& p = params.at(i);
        for (uint32_t r = 0; r < p.shards; ++r) {
            const float* g = p.at(0, r).g();
            std::mutex mutex;
            pool.parallel_for(size_t(p.shard_elems), [&](size_t a, size_t b) {
                double acc = 0;
                for (size_t j = a; j < b; ++j) acc += double(g[j]) * double(g[j]);
                std::lock_guard lock(mutex);
                sum_sq += acc;
            }, 1 << 16);
        }
    }
    const double norm = std::sqrt(sum_sq) * inv_scale;
    result.grad_norm = norm;
    if (!std::isfinite(norm)) {
        result.skipped_nonfinite = 1;
        return result;
    }
    // torch.nn.utils.clip_grad_norm_: coefficient max / (norm + 1e-6), only when below 1.
    double clip = 1.0;
    if (s.max_grad_norm > 0) {
        const double coef = double(s.max_grad_norm) / (norm + 1e-6);
        if (coef < 1.0) clip = coef;
    }
    const float grad_mul = float(inv_scale * clip);

    // torch.optim.AdamW (single-tensor): the Python scalars are doubles, cast to float where they meet a tensor.
    const double lr = s.learning_rate, b1 = s.beta1, b2 = s.beta2;
    const double bc1 = 1.0 - std::pow(b1, double(s.step));
    const double bc2 = 1.0 - std::pow(b2, double(s.step));
    const float step_size = float(lr / bc1);
    const float bc2_sqrt = float(std::sqrt(bc2));
    const float one_minus_b1 = float(1.0 - b1);
    const float b2f = float(b2);
    const float one_minus_b2 = float(1.0 - b2);
    const float eps = s.eps;
    for (size_t i = 0; i < params.size(); ++i) {
        Parameter& p = params.at(i);
        const bool decay = s.weight_decay > 0 && (s.decay_all_parameters == 1 || !p.no_weight_decay);
        const float decay_mul = float(1.0 - lr * double(s.weight_decay));
        // Each IPU updates its own shard or copy with the same (reduced) gradient. Phased execution: the
        // weights and gradients of one replica's parts come on chip for the update, the weights go back.
        for (uint32_t rep = 0; rep < p.replicas; ++rep) {
        const WeightPhase phase(params.device(), rep, WeightPhase::Mode::kUpdate, {&p});
        for (uint32_t rank = 0; rank < p.tp; ++rank) {
        ParamShard& part = p.at(rep, rank);
        float* w = part.w();
        const float* gacc = part.g();
        float* m = part.adam_m.as<float>().data();
        float* v = part.adam_v.as<float>().data();
        // Moments in streaming memory pass through on-chip buffers for this part's update, in and out again.
        const bool streamed = part.adam_m.location() == FT5_MEMORY_STREAMING;
        const uint64_t bytes = part.adam_m.bytes();
        ipu::DeviceBuffer m_chip, v_chip;
        if (streamed) {
            m_chip = ipu::DeviceBuffer(params.device(), part.adam_m.ipu(), FT5_MEMORY_ON_CHIP, bytes,
                                       part.adam_m.name() + " (streamed in)");
            v_chip = ipu::DeviceBuffer(params.device(), part.adam_v.ipu(), FT5_MEMORY_ON_CHIP, bytes,
                                       part.adam_v.name() + " (streamed in)");
            std::memcpy(m_chip.data(), part.adam_m.data(), size_t(bytes));
            std::memcpy(v_chip.data(), part.adam_v.data(), size_t(bytes));
            params.device()->traffic().streaming_bytes += 2 * bytes;
            m = m_chip.as<float>().data();
            v = v_chip.as<float>().data();
        }
        pool.parallel_for(size_t(p.shard_elems), [&](size_t a, size_t b) {
            for (size_t j = a; j < b; ++j) {
                const float g = grad_mul == 1.0f ? gacc[j] : gacc[j] * grad_mul;
                float wj = w[j];
                if (decay) wj *= decay_mul;
                const float mj = m[j] + one_minus_b1 * (g - m[j]);  // lerp(m, g, 1 - b1), weight < 0.5
                const float vj = v[j] * b2f + one_minus_b2 * g * g;
                const float denom = std::sqrt(vj) / bc2_sqrt + eps;
                w[j] = wj + (-step_size) * mj / denom;
                m[j] = mj;
                v[j] = vj;
            }
        }, 1 << 14);
        if (streamed) {
            std::memcpy(part.adam_m.data(), m_chip.data(), size_t(bytes));
            std::memcpy(part.adam_v.data(), v_chip.data(), size_t(bytes));
            params.device()->traffic().streaming_bytes += 2 * bytes;
        }
        }
        }
    }
    return result;
}

}  // namespace ft5::model
