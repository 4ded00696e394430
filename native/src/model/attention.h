// Scaled-dot-product attention without the 1/sqrt(d) scale (T5), over a contiguous range of heads. A
// tensor-parallel shard calls these with its own heads; only the output projection then needs an all-reduce.
#pragma once

#include <cstdint>

#include "model/kernels.h"
#include "model/thread_pool.h"

namespace ft5::model {

struct AttentionShape {
    int64_t batch = 0;
    int64_t q_len = 0;
    int64_t k_len = 0;
    int64_t heads = 0;  // heads in this range
    int64_t d_kv = 0;
    int64_t ld = 0;               // row stride of q, k, v, ctx (all heads of the layer: H * d_kv)
    int64_t q_batch_stride = 0;   // elements between batch rows of q / ctx
    int64_t kv_batch_stride = 0;  // elements between batch rows of k / v (a decode cache has room for more)
};

// probs[b, h, i, j] = softmax_j(q_i . k_j + pos_bias[h, i, j] + key_mask[b, j]) (masked entries: the mask value);
// ctx = dropout(probs) v. pos_bias [heads, q_len, k_len] and key_mask [batch, k_len] are nullable.
// q, k, v, ctx point at the first head of the range.
void attention_forward(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k, const float* v,
                       const float* pos_bias, const float* key_mask, const kernels::Dropout& drop, float* probs,
                       float* ctx);

// From dctx: dq, dk, dv (overwritten, same layout as q/k/v) and, when dpos_bias is not NULL, the gradient of
// the position bias summed over the batch (accumulated). Heads run in parallel on the pool.
void attention_backward(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k, const float* v, const float* probs,
                        const kernels::Dropout& drop, const float* dctx, float* dq, float* dk, float* dv,
                        float* dpos_bias);

}  // namespace ft5::model
