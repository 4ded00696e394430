#include "t5/shard_layout.h"

#include <stdexcept>
#include <string>

namespace ft5::t5 {

namespace {

std::size_t product(const std::vector<std::size_t>& shape, std::size_t from, std::size_t to) {
    std::size_t n = 1;
    for (std::size_t i = from; i < to; ++i) n *= shape[i];
    return n;
}

// The logical tensor as [outer, split extent, inner] around the split dimension.
struct Split {
    std::size_t outer, extent, inner;
};

Split splitOf(const Parameter& p) {
    const std::size_t d = std::size_t(p.split_dim);
    return {product(p.logical_shape, 0, d), p.logical_shape[d], product(p.logical_shape, d + 1, p.logical_shape.size())};
}

void checkSize(const Parameter& p, std::size_t got, std::size_t expected, const char* what) {
    if (got != expected)
        throw std::invalid_argument("parameter " + p.name + ": " + what + " has " + std::to_string(got) +
                                    " values; expected " + std::to_string(expected));
}

}  // namespace

std::size_t shardElements(const Parameter& p) {
    if (!p.split()) return product(p.logical_shape, 0, p.logical_shape.size());
    const Split s = splitOf(p);
    return s.outer * p.shard_extent * s.inner;
}

std::vector<float> shardOf(const Parameter& p, const std::vector<float>& logical, std::size_t rank) {
    checkSize(p, logical.size(), product(p.logical_shape, 0, p.logical_shape.size()), "the logical tensor");
    if (!p.split()) return logical;
    const Split s = splitOf(p);
    std::vector<float> shard(shardElements(p), 0.0f);
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < p.shard_extent; ++j) {
            const std::size_t k = rank * p.shard_extent + j;
            if (k >= s.extent) break;  // padding stays zero
            for (std::size_t i = 0; i < s.inner; ++i)
                shard[(o * p.shard_extent + j) * s.inner + i] = logical[(o * s.extent + k) * s.inner + i];
        }
    return shard;
}

void placeShard(const Parameter& p, const std::vector<float>& shard, std::size_t rank, std::vector<float>& logical) {
    checkSize(p, shard.size(), shardElements(p), "a shard");
    logical.resize(product(p.logical_shape, 0, p.logical_shape.size()));
    if (!p.split()) {
        logical = shard;
        return;
    }
    const Split s = splitOf(p);
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < p.shard_extent; ++j) {
            const std::size_t k = rank * p.shard_extent + j;
            if (k >= s.extent) break;
            for (std::size_t i = 0; i < s.inner; ++i)
                logical[(o * s.extent + k) * s.inner + i] = shard[(o * p.shard_extent + j) * s.inner + i];
        }
}

std::vector<float> replicaBuffer(const Parameter& p, const ParallelPlan& plan, const std::vector<float>& logical) {
    std::vector<float> out;
    out.reserve(plan.replicas() * shardElements(p));
    for (std::size_t r = 0; r < plan.replicas(); ++r) {
        const std::vector<float> shard = shardOf(p, logical, plan.tpRank(r));
        out.insert(out.end(), shard.begin(), shard.end());
    }
    return out;
}

std::vector<float> logicalTensor(const Parameter& p, const ParallelPlan& plan, const std::vector<float>& replicas,
                                 bool sum_data) {
    const std::size_t n = shardElements(p);
    checkSize(p, replicas.size(), plan.replicas() * n, "the replicas' buffer");
    std::vector<float> logical;
    for (std::size_t rank = 0; rank < plan.tp; ++rank) {
        std::vector<float> shard(n, 0.0f);
        for (std::size_t g = 0; g < (sum_data ? plan.dp : 1); ++g) {
            const std::size_t base = plan.replica(g, rank) * n;
            for (std::size_t i = 0; i < n; ++i) shard[i] += replicas[base + i];
        }
        placeShard(p, shard, rank, logical);
    }
    return logical;
}

}  // namespace ft5::t5
