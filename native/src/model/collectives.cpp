#include "model/collectives.h"

namespace ft5::model {

void Collectives::all_reduce_sum(float* dst, const float* const* parts, uint32_t num_parts, int64_t n) const {
    for (uint32_t p = 0; p < num_parts; ++p) {
        const float* src = parts[p];
        for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
    }
    count_all_reduce(num_parts + 1, n);
}

void Collectives::count_all_reduce(uint32_t group, int64_t n) const {
    if (group <= 1 || n <= 0) return;
    auto& t = device_->traffic();
    t.inter_ipu_bytes += 2 * uint64_t(group - 1) * uint64_t(n) * sizeof(float);
    t.collectives += 1;
}

void Collectives::count_gather(uint32_t group, int64_t n) const {
    if (group <= 1 || n <= 0) return;
    auto& t = device_->traffic();
    t.inter_ipu_bytes += uint64_t(n) * sizeof(float) * (group - 1) / group;
    t.collectives += 1;
}

void Collectives::count_copy(int64_t n, uint32_t copies) const {
    if (n <= 0 || copies == 0) return;
    device_->traffic().inter_ipu_bytes += uint64_t(n) * sizeof(float) * copies;
}

}  // namespace ft5::model
