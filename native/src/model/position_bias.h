// T5 relative position buckets and the per-head bias they index, computed once per call and shared by
// every block of a stack (only block 0 owns the table, as in Hugging Face).
#pragma once

#include <cstdint>

namespace ft5::model {

// rel = key position - query position. Bidirectional (encoder): half the buckets per sign; causal
// (decoder): only rel <= 0 counts. Log-spaced beyond max_exact, in the same fp32 operation order as
// Hugging Face so that boundary cases (rel = 16, 32, ...) land in the same bucket.
int32_t relative_position_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance);

// out[h, i, j] = table[bucket(j - (q_offset + i)), h0 + h] for h in [0, heads); causal adds the mask value
// where key j > query q_offset + i. table is [num_buckets, total_heads] (the HF embedding layout).
void position_bias_forward(const float* table, int64_t total_heads, int64_t h0, int64_t heads, int64_t q_len,
                           int64_t k_len, int64_t q_offset, bool bidirectional, bool causal, int64_t num_buckets,
                           int64_t max_distance, float* out);

// dtable[bucket, h0 + h] += dbias[h, i, j] over every (i, j) that is not masked.
void position_bias_backward(const float* dbias, int64_t total_heads, int64_t h0, int64_t heads, int64_t q_len,
                            int64_t k_len, bool bidirectional, bool causal, int64_t num_buckets,
                            int64_t max_distance, float* dtable);

}  // namespace ft5::model
