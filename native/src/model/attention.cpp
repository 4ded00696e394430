#include "model/attention.h"

#include <cblas.h>

#include <vector>

namespace ft5::model {

using kernels::kMaskValue;

namespace {

// Per-head products are small (T x d_kv): splitting each over OpenBLAS threads costs more than it saves,
// so the heads run in parallel on the pool and each product stays on its calling thread.
class SingleThreadedBlas {
public:
    SingleThreadedBlas() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
    ~SingleThreadedBlas() { openblas_set_num_threads(previous_); }
    SingleThreadedBlas(const SingleThreadedBlas&) = delete;
    SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

private:
    int previous_;
};

}  // namespace

void attention_forward(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k, const float* v,
                       const float* pos_bias, const float* key_mask, const kernels::Dropout& drop, float* probs,
                       float* ctx) {
    const int64_t tile = s.q_len * s.k_len;
    SingleThreadedBlas single;
    // A decode step (one query) is too little work to wake the other threads for.
    const size_t min_heads = s.batch * tile >= 4096 ? 1 : size_t(s.heads);
    pool.parallel_for(size_t(s.heads), [&](size_t h0, size_t h1) {
        std::vector<float> dropped(drop.active() ? static_cast<size_t>(tile) : 0);
        for (int64_t h = int64_t(h0); h < int64_t(h1); ++h) {
            for (int64_t b = 0; b < s.batch; ++b) {
                const float* qb = q + b * s.q_batch_stride + h * s.d_kv;
                const float* kb = k + b * s.kv_batch_stride + h * s.d_kv;
                const float* vb = v + b * s.kv_batch_stride + h * s.d_kv;
                float* p = probs + (b * s.heads + h) * tile;
                kernels::gemm(false, true, s.q_len, s.k_len, s.d_kv, 1.0f, qb, s.ld, kb, s.ld, 0.0f, p, s.k_len);
                const float* pb = pos_bias != nullptr ? pos_bias + h * tile : nullptr;
                const float* km = key_mask != nullptr ? key_mask + b * s.k_len : nullptr;
                for (int64_t i = 0; i < s.q_len; ++i) {
                    float* row = p + i * s.k_len;
                    const float* brow = pb != nullptr ? pb + i * s.k_len : nullptr;
                    if (brow != nullptr && km != nullptr) {
                        for (int64_t j = 0; j < s.k_len; ++j)
                            row[j] = (brow[j] == kMaskValue || km[j] == kMaskValue) ? kMaskValue : row[j] + brow[j];
                    } else if (brow != nullptr) {
                        for (int64_t j = 0; j < s.k_len; ++j) row[j] = brow[j] == kMaskValue ? kMaskValue : row[j] + brow[j];
                    } else if (km != nullptr) {
                        for (int64_t j = 0; j < s.k_len; ++j) row[j] = km[j] == kMaskValue ? kMaskValue : row[j];
                    }
                }
                kernels::softmax_rows(p, s.q_len, s.k_len);
                float* cb = ctx + b * s.q_batch_stride + h * s.d_kv;
                const float* pused = p;
                if (drop.active()) {
                    // probs keeps the undropped values for the backward pass.
                    kernels::dropout_copy(drop, p, dropped.data(), tile, uint64_t((b * s.heads + h) * tile));
                    pused = dropped.data();
                }
                kernels::gemm(false, false, s.q_len, s.d_kv, s.k_len, 1.0f, pused, s.k_len, vb, s.ld, 0.0f, cb, s.ld);
            }
        }
    }, min_heads);
}

void attention_backward(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k, const float* v,
                        const float* probs, const kernels::Dropout& drop, const float* dctx, float* dq, float* dk,
                        float* dv, float* dpos_bias) {
    const int64_t tile = s.q_len * s.k_len;
    SingleThreadedBlas single;
    pool.parallel_for(size_t(s.heads), [&](size_t h0, size_t h1) {
        std::vector<float> scratch(static_cast<size_t>(2 * tile));
        float* dp = scratch.data();
        float* pdrop = scratch.data() + tile;
        for (int64_t h = int64_t(h0); h < int64_t(h1); ++h) {
            for (int64_t b = 0; b < s.batch; ++b) {
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
                kernels::gemm(true, false, s.k_len, s.d_kv, s.q_len, 1.0f, pused, s.k_len, dcb, s.ld, 0.0f, dvb,
                              s.ld);
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
                if (dpos_bias != nullptr) {  // heads are split between threads, so each row of dpos_bias has one owner
                    float* db = dpos_bias + h * tile;
                    for (int64_t i = 0; i < tile; ++i) db[i] += dp[i];
                }
                // dq = dS k; dk = dS^T q
                kernels::gemm(false, false, s.q_len, s.d_kv, s.k_len, 1.0f, dp, s.k_len, kb, s.ld, 0.0f, dqb, s.ld);
                kernels::gemm(true, false, s.k_len, s.d_kv, s.q_len, 1.0f, dp, s.k_len, qb, s.ld, 0.0f, dkb, s.ld);
            }
        }
    });
}

}  // namespace ft5::model
