// One T5 block (T5Block): self-attention, cross-attention in the decoder, feed-forward; each a pre-norm layer
// with a residual connection.
#pragma once

#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/activation_ranges.h"
#include "t5/attention.h"
#include "t5/feed_forward.h"
#include "t5/layer_norm.h"
#include "t5/parallel.h"
#include "t5/parameters.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

struct BlockWeights {
    const Parameter* self_norm = nullptr;
    AttentionWeights self;
    const Parameter* cross_norm = nullptr;  // decoder only
    AttentionWeights cross;                 // decoder only
    const Parameter* ff_norm = nullptr;
    FeedForwardWeights ff;
};

// Adds the block's parameters under Hugging Face's names, prefix "encoder.block.3" etc.; the attention and
// feed-forward matrices split across the tensor-parallel ranks; all on pipeline stage `stage`.
BlockWeights addBlockParameters(Parameters& params, const T5Config& config, const std::string& prefix, bool decoder,
                               std::size_t stage);

// Every parameter of the block (what phased execution fetches for it).
std::vector<const Parameter*> parametersOf(const BlockWeights& w);

struct BlockShape {
    std::size_t batch = 0, len = 0, enc_len = 0;  // enc_len: the encoder's length (decoder blocks)
    const ReplicaGroups* groups = nullptr;        // the shards' all-reduces (heads and d_ff are this rank's)
    ActivationRanges* ranges = nullptr;           // when set, the forward pass records its layers' ranges
    std::size_t stage = 0;                        // the block's stage (where ranges records)
};

// What a block attends with: the self-attention bias (positions and masks) and, in the decoder, the encoder's
// output and the cross-attention bias (its mask).
struct BlockContext {
    poplar::Tensor self_bias;
    poplar::Tensor encoder_output;
    poplar::Tensor cross_bias;
};

struct BlockSaved {
    LayerNormSaved self_norm, cross_norm, ff_norm;
    AttentionSaved self, cross;
    FeedForwardSaved ff;
    DropoutSite self_out, cross_out, ff_out;  // each layer's output dropout, before its residual add
};
std::vector<poplar::Tensor> tensorsOf(const BlockSaved& saved);

// The saved state of a forward pass to recompute: its dropout sites marked to replay their masks.
BlockSaved replayOf(const BlockSaved& saved);

struct BlockGradients {
    poplar::Tensor x;               // d(input)
    poplar::Tensor encoder_output;  // decoder: d(encoder output) from cross-attention
    poplar::Tensor self_scores;     // d(self-attention scores), for the position bias
};

// dropout (training): Hugging Face's sites within a block: attention probabilities, the feed-forward's hidden
// layer, and each layer's output before its residual add.
poplar::Tensor block(poplar::Graph& graph, const T5Config& config, const BlockWeights& w, const BlockShape& s,
                     const BlockContext& context, const poplar::Tensor& x, poplar::program::Sequence& prog,
                     const std::string& name, BlockSaved& saved, Dropout* dropout = nullptr);

BlockGradients blockBackward(poplar::Graph& graph, const T5Config& config, const BlockWeights& w,
                             const BlockShape& s, const BlockSaved& saved, const poplar::Tensor& d_out,
                             poplar::program::Sequence& prog, const std::string& name,
                             const Dropout* dropout = nullptr);

}  // namespace ft5::t5
