// Incremental decoding with a key/value cache: a begin program runs the encoder once and keeps each decoder
// layer's cross-attention keys and values; a step program embeds one token per row, writes its self-attention
// key and value into the cache at the current position (dynamicUpdate), attends over the cache with the causal
// position bias row of that position (dynamicSlice), and sends the next-token logits. For beam search the step
// first reorders every row's cache (self and cross keys and values, the encoder mask) to its beam parent's
// (multiSlice), so a beam continues the history of the beam it was chosen from. Under tensor parallelism each
// replica caches its own heads and sends its vocabulary shard's logits. Under pipeline parallelism each decoder
// layer runs on its stage's graph (stages.h) and caches there; each stage keeps its own copy of the small tensors
// its layers read (the cache position, the bias rows, the encoder mask), and the residual stream crosses the stages
// in order, once per token.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <poplar/DataStream.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/lm_head.h"
#include "t5/stack.h"
#include "t5/stages.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

namespace streams {
inline constexpr const char* kDecodeInputIds = "decode_input_ids";            // INT [batch, src_len]
inline constexpr const char* kDecodeAttentionMask = "decode_attention_mask";  // INT [batch, src_len]
inline constexpr const char* kDecodeTokens = "decode_tokens";                 // INT [batch]: each row's last token
// FLOAT [batch, vocab]; under tensor parallelism each replica's vocabulary shard [batch, padded vocab / tp]
inline constexpr const char* kDecodeLogits = "decode_logits";
// INT [batch]: each row's parent row, whose cache it takes before the step (i for row i: no reorder)
inline constexpr const char* kDecodeParents = "decode_parents";
}  // namespace streams

struct DecodeShape {
    std::size_t batch = 0;
    std::size_t src_len = 0;
    std::size_t max_len = 0;  // decoder positions the cache holds: the start token and the tokens fed after it

    bool enabled() const { return batch != 0; }
    void validate() const;
    bool operator==(const DecodeShape& o) const {
        return batch == o.batch && src_len == o.src_len && max_len == o.max_len;
    }
};

class CachedDecoding {
public:
    // graph: the replica's (the streams are its); every layer runs on its stage of `stages`. set: the program set
    // whose streams it reads and sends (t5_program.h's streamHandle).
    CachedDecoding(poplar::Graph& graph, Stages& stages, const T5Config& config, const StackWeights& encoder,
                   const StackWeights& decoder, const Parameter& lm_weight, const DecodeShape& shape,
                   const ReplicaGroups& groups, std::size_t set = 0);

    // Reads the prompts, encodes them, fills the cross-attention cache, empties the self-attention cache.
    poplar::program::Sequence begin();
    // Reads each row's beam parent and one token per row, sends the logits of the next; max_len steps at most per
    // begin.
    poplar::program::Sequence step();
    // The bytes on `stage` that begin() leaves for the steps (caches, biases, positions, parents): live from one
    // program run to the next, so a compiled engine holds them for its whole life.
    std::size_t stateBytes(std::size_t stage) const;

private:
    struct LayerCache {
        std::size_t stage = 0;
        poplar::Tensor self_k, self_v;    // [batch * heads, max_len, d_kv]
        poplar::Tensor cross_k, cross_v;  // [batch * heads, src_len, d_kv]
    };
    // What the layers of one stage read besides their caches, on that stage.
    struct StageState {
        poplar::Tensor cross_bias;       // [batch, 1, 1, src_len]: the encoder's mask
        poplar::Tensor self_bias_table;  // [heads, max_len, max_len]: position bias plus the causal mask
        poplar::Tensor position;         // UNSIGNED_INT [1]: the cache position the next step writes
        poplar::Tensor parents;          // INT [batch]: the step's beam parents
    };

    poplar::Graph& graph_;
    Stages& stages_;
    const T5Config& config_;
    const StackWeights& decoder_;
    DecodeShape shape_;
    const ReplicaGroups& groups_;
    std::size_t heads_;  // this rank's heads
    std::size_t head_stage_;  // the LM head's
    std::unique_ptr<Stack> encoder_;
    std::unique_ptr<PositionBias> self_bias_;
    LmHead lm_head_;
    std::vector<LayerCache> cache_;
    std::map<std::size_t, StageState> at_;  // by stage, for the stages holding decoder layers
    poplar::Tensor ids_, mask_, parents_;   // on stage 0, as the batch programs' inputs
    poplar::Tensor tokens_;                 // on the decoder embedding's stage
    // DataStream has no default constructor in the SDK: set while the graph is built.
    std::optional<poplar::DataStream> ids_in_, mask_in_, tokens_in_, parents_in_, logits_out_;
};

}  // namespace ft5::t5
