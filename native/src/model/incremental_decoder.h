// Decoding one token at a time: the encoder runs once, each decoder block keeps its self-attention keys and
// values (a cache with room for max_steps tokens) and its cross-attention keys and values of the encoder
// output. The host drives greedy or beam search on the last position's logits. Under tensor parallelism each
// tp rank caches its own heads on its IPU. Replica 0 decodes (every replica holds the same weights).
#pragma once

#include <cstdint>
#include <vector>

#include "ipu/device_buffer.h"
#include "model/t5_model.h"

namespace ft5::model {

class IncrementalDecoder {
public:
    IncrementalDecoder(T5Model& model, const int32_t* input_ids, const int32_t* attention_mask, int64_t batch,
                       int64_t src_len, int64_t max_steps);

    int64_t batch() const noexcept { return batch_; }
    int64_t steps_done() const noexcept { return step_; }
    int64_t max_steps() const noexcept { return max_steps_; }
    // tokens[batch] -> logits[batch, vocab]. Throws when the cache is full.
    void step(const int32_t* tokens, float* logits);
    // New row i = old row rows[i]; count may differ from the current batch.
    void reorder(const int32_t* rows, int64_t count);

private:
    struct RankCache {
        ipu::DeviceBuffer self_k, self_v;    // [B, max_steps, H_rank * d_kv]
        ipu::DeviceBuffer cross_k, cross_v;  // [B, S, H_rank * d_kv]
    };
    using BlockCache = std::vector<RankCache>;  // one per tp rank

    T5Model& model_;
    int64_t batch_;
    int64_t src_len_;
    int64_t max_steps_;
    int64_t step_ = 0;
    ipu::DeviceBuffer enc_mask_;  // [B, S] additive
    std::vector<BlockCache> blocks_;
};

}  // namespace ft5::model
