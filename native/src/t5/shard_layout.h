// Host side of a replicated T5 graph: how a parameter's logical tensor (Hugging Face's shape, row-major) maps to
// the per-replica buffer that Engine::writeTensor / readTensor take for a replicated handle (one block per replica,
// in replica order), and how the batch rows map to the replicated streams' blocks. A split parameter's shard k
// holds logical indices [k * shard_extent, (k + 1) * shard_extent) of its split dimension, zero past the end.
#pragma once

#include <cstddef>
#include <vector>

#include "t5/parallel.h"
#include "t5/parameters.h"

namespace ft5::t5 {

// Elements of one replica's block of p.
std::size_t shardElements(const Parameter& p);

// Tensor-parallel rank `rank`'s shard of the logical tensor (zero padding included).
std::vector<float> shardOf(const Parameter& p, const std::vector<float>& logical, std::size_t rank);

// Writes `shard` (rank's block) into its place in the logical tensor, dropping the padding.
void placeShard(const Parameter& p, const std::vector<float>& shard, std::size_t rank, std::vector<float>& logical);

// The buffer for writeTensor: every replica's shard, in replica order (dp groups repeat the tp shards).
std::vector<float> replicaBuffer(const Parameter& p, const ParallelPlan& plan, const std::vector<float>& logical);

// The logical tensor from a readTensor buffer. sum_data: the sum over the data-parallel groups (gradients before the
// optimizer step sums them); else data-parallel group 0's copy (weights, which every group holds alike).
std::vector<float> logicalTensor(const Parameter& p, const ParallelPlan& plan, const std::vector<float>& replicas,
                                 bool sum_data);

// A stream buffer for one entry: the batch's rows (row_elements each; plan.dp groups of rows_per_replica rows, in
// order) as one block per replica, each tensor-parallel rank of a group getting its group's rows.
template <typename T>
std::vector<T> replicaRows(const ParallelPlan& plan, const std::vector<T>& batch, std::size_t rows_per_replica,
                           std::size_t row_elements) {
    const std::size_t block = rows_per_replica * row_elements;
    std::vector<T> out;
    out.reserve(plan.replicas() * block);
    for (std::size_t r = 0; r < plan.replicas(); ++r) {
        const auto first = batch.begin() + std::ptrdiff_t(plan.dpIndex(r) * block);
        out.insert(out.end(), first, first + std::ptrdiff_t(block));
    }
    return out;
}

}  // namespace ft5::t5
