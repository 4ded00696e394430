// A T5 stack (T5Stack): token embedding, the blocks, the final layer norm. The encoder's self-attention bias
// is bidirectional plus its padding mask; the decoder's is causal and its cross-attention sees the encoder's mask.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/block.h"
#include "t5/dropout.h"
#include "t5/layer_norm.h"
#include "t5/parallel.h"
#include "t5/parameters.h"
#include "t5/position_bias.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

// A stack's parameters under Hugging Face's names ("encoder.block.0...", "decoder.final_layer_norm.weight").
struct StackWeights {
    bool decoder = false;
    const Parameter* embedding = nullptr;  // the token table this stack reads
    std::vector<BlockWeights> blocks;
    const Parameter* position_bias = nullptr;  // block 0's relative_attention_bias
    const Parameter* final_norm = nullptr;
};

// decoder: a causal stack with cross-attention.
StackWeights addStackParameters(Parameters& params, const T5Config& config, bool decoder, const Parameter& embedding);

class Stack {
public:
    // The stack for one static shape: batch rows of len tokens (decoder: attending to enc_len encoder tokens), of
    // this replica's shard (groups: its tensor-parallel ranks).
    Stack(poplar::Graph& graph, const T5Config& config, const StackWeights& weights, std::size_t batch,
          std::size_t len, std::size_t enc_len, const ReplicaGroups& groups);

    // ids: UNSIGNED_INT [batch * len, 1]. mask_bias: the encoder's additive mask [batch, 1, 1, enc_len].
    // encoder_output: [batch * enc_len, d_model] (decoder). Returns [batch * len, d_model]. dropout (training)
    // drops the embedding's output and the final layer norm's, besides the blocks' sites.
    poplar::Tensor forward(const poplar::Tensor& ids, const poplar::Tensor& mask_bias,
                           const poplar::Tensor& encoder_output, poplar::program::Sequence& prog,
                           Dropout* dropout = nullptr);

    // Adds every gradient of the stack's parameters (the embedding's too) for the last forward built; returns
    // d(encoder output) for the decoder, an empty tensor for the encoder.
    poplar::Tensor backward(const poplar::Tensor& d_out, poplar::program::Sequence& prog);

private:
    poplar::Graph& graph_;
    const T5Config& config_;
    bool decoder_;
    std::string name_;
    const Parameter& embedding_;
    const std::vector<BlockWeights>& blocks_;
    const Parameter* final_norm_ = nullptr;
    BlockShape shape_;
    std::unique_ptr<PositionBias> position_bias_;
    poplar::Tensor one_;  // FLOAT scalar 1, the embedding update's scale

    // forward state
    poplar::Tensor ids_;    // the embedding rows looked up (of this rank's shard)
    poplar::Tensor owned_;  // tensor-parallel: FLOAT [rows, 1], 1 where this rank holds the token
    BlockContext context_;
    std::vector<BlockSaved> saved_;
    LayerNormSaved final_saved_;
    Dropout* dropout_ = nullptr;
    DropoutSite embed_dropout_, final_dropout_;
};

}  // namespace ft5::t5
