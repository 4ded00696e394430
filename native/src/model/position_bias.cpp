#include "model/position_bias.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/kernels.h"

namespace ft5::model {

int32_t relative_position_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
    int64_t bucket = 0;
    int64_t n = num_buckets;
    if (bidirectional) {
        n /= 2;
        if (rel > 0) bucket += n;
        rel = rel < 0 ? -rel : rel;
    } else {
        rel = rel < 0 ? -rel : 0;
    }
    const int64_t max_exact = n / 2;
    if (rel < max_exact) return int32_t(bucket + rel);
    // torch: log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (n - max_exact), in fp32.
    const float ratio = float(rel) / float(max_exact);
    const float denom = float(std::log(double(max_distance) / double(max_exact)));
    const float scaled = std::log(ratio) / denom * float(n - max_exact);
    int64_t large = max_exact + int64_t(scaled);
    large = std::min<int64_t>(large, n - 1);
    return int32_t(bucket + large);
}

void position_bias_forward(const float* table, int64_t total_heads, int64_t h0, int64_t heads, int64_t q_len,
                           int64_t k_len, int64_t q_offset, bool bidirectional, bool causal, int64_t num_buckets,
                           int64_t max_distance, float* out) {
    for (int64_t i = 0; i < q_len; ++i) {
        const int64_t qpos = q_offset + i;
        for (int64_t j = 0; j < k_len; ++j) {
            const bool masked = causal && j > qpos;
            const int32_t b = relative_position_bucket(j - qpos, bidirectional, num_buckets, max_distance);
            for (int64_t h = 0; h < heads; ++h) {
                out[(h * q_len + i) * k_len + j] = masked ? kernels::kMaskValue : table[b * total_heads + h0 + h];
            }
        }
    }
}

void position_bias_backward(const float* dbias, int64_t total_heads, int64_t h0, int64_t heads, int64_t q_len,
                            int64_t k_len, bool bidirectional, bool causal, int64_t num_buckets,
                            int64_t max_distance, float* dtable) {
    std::vector<double> acc(size_t(num_buckets * heads), 0.0);
    for (int64_t i = 0; i < q_len; ++i) {
        for (int64_t j = 0; j < k_len; ++j) {
            if (causal && j > i) continue;
            const int32_t b = relative_position_bucket(j - i, bidirectional, num_buckets, max_distance);
            for (int64_t h = 0; h < heads; ++h) acc[size_t(b * heads + h)] += dbias[(h * q_len + i) * k_len + j];
        }
    }
    for (int64_t b = 0; b < num_buckets; ++b)
        for (int64_t h = 0; h < heads; ++h) dtable[b * total_heads + h0 + h] += float(acc[size_t(b * heads + h)]);
}

}  // namespace ft5::model
