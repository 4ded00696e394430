#include "model/attention.h"

#include <vector>

namespace ft5::model {

using kernels::kMaskValue;

void attention_forward(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k, const float* v,
                       const float* pos_bias, const float* key_mask, const kernels::Dropout& drop, float* probs,
                       float* ctx) {
    const int64_t tile = s.q_len * s.k_len;
    for (int64_t b = 0; b < s.batch; ++b) {
        for (int64_t h = 0; h < s.heads; ++h) {
            const float* qb = q + b * s.q_batch_stride + h * s.d_kv;
            const float* kb = k + b * s.kv_batch_stride + h * s.d_kv;
            const float* vb = v + b * s.kv_batch_stride + h * s.d_kv;
            float* p = probs + (b * s.heads + h) * tile;
            kernels::gemm(false, true, s.q_len, s.k_len, s.d_kv, 1.0f, qb, s.ld, kb, s.ld, 0.0f, p, s.k_len);
            const float* pb = pos_bias != nullptr ? pos_bias + h * tile : nullptr;
            const float* km = key_mask != nullptr ? key_mask + b * s.k_len : nullptr;
            pool.parallel_for(size_t(s.q_len), [&](size_t i0, size_t i1) {
                for (size_t i = i0; i < i1; ++i) {
                    float* row = p + int64_t(i) * s.k_len;
                    const float* brow = pb != nullptr ? pb + int64_t(i) * s.k_len : nullptr;
                    for (int64_t j = 0; j < s.k_len; ++j) {
                        const bool masked =
                            (brow != nullptr && brow[j] == kMaskValue) || (km != nullptr && km[j] == kMaskValue);
                        row[j] = masked ? kMaskValue : (brow != nullptr ? row[j] + brow[j] : row[j]);
                    }
                    kernels::softmax_rows(row, 1, s.k_len);
                }
            }, 32);
            float* cb = ctx + b * s.q_batch_stride + h * s.d_kv;
            if (drop.active()) {
                // The dropped probabilities feed only the product; probs keeps the undropped ones for backward.
                std::vector<float> dropped(static_cast<size_t>(tile));
                kernels::dropout_copy(drop, p, dropped.data(), tile, uint64_t((b * s.heads + h) * tile));
                kernels::gemm(false, false, s.q_len, s.d_kv, s.k_len, 1.0f, dropped.data(), s.k_len, vb, s.ld, 0.0f,
                              cb, s.ld);
            } else {
                kernels::gemm(false, false, s.q_len, s.d_kv, s.k_len, 1.0f, p, s.k_len, vb, s.ld, 0.0f, cb, s.ld);
            }
        }
    }
}

void attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v, const float* probs,
                        const kernels::Dropout& drop, const float* dctx, float* dq, float* dk, float* dv,
                        float* dpos_bias, float* scratch) {
    const int64_t tile = s.q_len * s.k_len;
    float* dp = scratch;
    float* pdrop = scratch + tile;
    for (int64_t b = 0; b < s.batch; ++b) {
        for (int64_t h = 0; h < s.heads; ++h) {
            const float* qb = q + b * s.q_batch_stride + h * s.d_kv;
            const float* kb = k + b * s.kv_batch_stride + h * s.d_kv;
            const float* vb = v + b * s.kv_batch_stride + h * s.d_kv;
            const float* dcb = dctx + b * s.q_batch_stride + h * s.d_kv;
            float* dqb = dq + b * s.q_batch_stride + h * s.d_kv;
            float* dkb = dk + b * s.kv_batch_stride + h * s.d_kv;
            float* dvb = dv + b * s.kv_batch_stride + h * s.d_kv;
            const uint64_t offset = uint64_t((b * s.heads + h) * tile);
            const float* p = probs + int64_t(offset);
            const float* pused = p;
            if (drop.active()) {
                kernels::dropout_copy(drop, p, pdrop, tile, offset);
                pused = pdrop;
            }
            // dv = P'^T dctx; dP' = dctx v^T
            kernels::gemm(true, false, s.k_len, s.d_kv, s.q_len, 1.0f, pused, s.k_len, dcb, s.ld, 0.0f, dvb, s.ld);
            kernels::gemm(false, true, s.q_len, s.k_len, s.d_kv, 1.0f, dcb, s.ld, vb, s.ld, 0.0f, dp, s.k_len);
            if (drop.active()) kernels::dropout_copy(drop, dp, dp, tile, offset);
            // dS = P * (dP - rowsum(dP * P))
            for (int64_t i = 0; i < s.q_len; ++i) {
                float* dr = dp + i * s.k_len;
                const float* pr = p + i * s.k_len;
                double dot = 0;
                for (int64_t j = 0; j < s.k_len; ++j) dot += double(dr[j]) * pr[j];
                const float fdot = float(dot);
                for (int64_t j = 0; j < s.k_len; ++j) dr[j] = pr[j] * (dr[j] - fdot);
            }
            if (dpos_bias != nullptr) {
                float* db = dpos_bias + h * tile;
                for (int64_t i = 0; i < tile; ++i) db[i] += dp[i];
            }
            // dq = dS k; dk = dS^T q
            kernels::gemm(false, false, s.q_len, s.d_kv, s.k_len, 1.0f, dp, s.k_len, kb, s.ld, 0.0f, dqb, s.ld);
            kernels::gemm(true, false, s.k_len, s.d_kv, s.q_len, 1.0f, dp, s.k_len, qb, s.ld, 0.0f, dkb, s.ld);
        }
    }
}

}  // namespace ft5::model
