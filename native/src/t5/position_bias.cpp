#include "t5/position_bias.h"

#include <algorithm>
#include <cmath>

#include <popops/DynamicSlice.hpp>

namespace ft5::t5 {

unsigned relativePositionBucket(long offset, bool bidirectional, std::size_t buckets, std::size_t max_distance) {
    long bucket = 0;
    long n = long(buckets);
    long rel = offset;
    if (bidirectional) {
        n /= 2;
        if (rel > 0) bucket += n;
        rel = std::labs(rel);
    } else {
        rel = rel < 0 ? -rel : 0;
    }
    const long max_exact = n / 2;
    if (rel < max_exact) return unsigned(bucket + rel);
    // torch: log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (n - max_exact), in float32
    const float ratio = float(rel) / float(max_exact);
    const float denominator = float(std::log(double(max_distance) / double(max_exact)));
    const float scaled = std::log(ratio) / denominator * float(n - max_exact);
    const long large = std::min<long>(max_exact + long(scaled), n - 1);
    return unsigned(bucket + large);
}

PositionBias::PositionBias(poplar::Graph& graph, const Parameter& table, std::size_t q_len, std::size_t k_len,
                           std::size_t q_offset, bool bidirectional, std::size_t buckets, std::size_t max_distance,
                           const std::string& name)
    : graph_(graph), table_(table), q_len_(q_len), k_len_(k_len), name_(name) {
    // The buckets depend on the static shape only: a constant of the graph.
    std::vector<unsigned> rows(q_len * k_len);
    for (std::size_t i = 0; i < q_len; ++i)
        for (std::size_t j = 0; j < k_len; ++j)
            rows[i * k_len + j] =
                relativePositionBucket(long(j) - long(i + q_offset), bidirectional, buckets, max_distance);
    buckets_ = graph.addConstant<unsigned>(poplar::UNSIGNED_INT, {rows.size(), 1}, rows, name + "/buckets");
    graph.setTileMapping(buckets_, 0);
    one_ = graph.addConstant<float>(poplar::FLOAT, {}, 1.0f, name + "/one");
    graph.setTileMapping(one_, 0);
}

poplar::Tensor PositionBias::forward(poplar::program::Sequence& prog) const {
    fetch(table_, prog);
    const poplar::Tensor rows = popops::multiSlice(graph_, table_.weight, buckets_, {0}, {1}, prog,
                                                   popops::SlicePlan(), {}, name_ + "/lookup");
    const std::size_t heads = table_.weight.dim(1);
    return rows.reshape({q_len_, k_len_, heads}).dimShuffle({2, 0, 1});
}

void PositionBias::backward(const poplar::Tensor& d_bias, poplar::program::Sequence& prog) const {
    const std::size_t heads = table_.weight.dim(1);
    const poplar::Tensor rows = d_bias.dimShuffle({1, 2, 0}).reshape({q_len_ * k_len_, 1, heads});
    fetchGradient(table_, prog);
    popops::multiUpdateAdd(graph_, table_.gradient, rows, buckets_, one_, {0}, {1}, prog, popops::SlicePlan(), {},
                           name_ + "/gradient");
    storeGradient(table_, prog);
}

}  // namespace ft5::t5
