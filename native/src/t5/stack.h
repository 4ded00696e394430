// A T5 stack (T5Stack): token embedding, the blocks, the final layer norm. The encoder's self-attention bias
// is bidirectional plus its padding mask; the decoder's is causal and its cross-attention sees the encoder's mask.
// Under pipeline parallelism each block runs on its stage (stages.h): the residual stream, the attention biases and
// the encoder's output cross to a block's stage before it, and the backward pass carries the gradients back. With
// the plan's recomputation a block's backward pass first builds its forward again from the block's input (the same
// dropout masks), so the forward pass's activations die with it.
#pragma once

#include <map>
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
#include "t5/stages.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

// A stack's parameters under Hugging Face's names ("encoder.block.0...", "decoder.final_layer_norm.weight").
struct StackWeights {
    bool decoder = false;
    const Parameter* embedding = nullptr;  // the token table this stack reads
    std::vector<BlockWeights> blocks;
    std::vector<std::size_t> stages;  // the pipeline stage of each block
    const Parameter* position_bias = nullptr;  // block 0's relative_attention_bias
    const Parameter* final_norm = nullptr;
};

// decoder: a causal stack with cross-attention; its blocks on the plan's stages.
StackWeights addStackParameters(Parameters& params, const T5Config& config, bool decoder, const Parameter& embedding,
                                const ParallelPlan& plan);

class Stack {
public:
    // The stack for one static shape: batch rows of len tokens (decoder: attending to enc_len encoder tokens), of
    // this replica's shard (groups: its tensor-parallel ranks).
    Stack(Stages& stages, const T5Config& config, const StackWeights& weights, std::size_t batch, std::size_t len,
          std::size_t enc_len, const ReplicaGroups& groups);

    // ids: UNSIGNED_INT [batch * len, 1], on the embedding's stage. Returns the tokens' embeddings
    // [batch * len, d_model] there (looked up before the stage's other work, so a pass crosses the stages in order).
    Staged embed(const poplar::Tensor& ids, SegmentChain& chain);
    // x: embed's output. mask_bias: the encoder's additive mask [batch, 1, 1, enc_len]. encoder_output:
    // [batch * enc_len, d_model] (decoder). Returns [batch * len, d_model], on the last block's stage. dropout
    // (training) drops the embedding's output and the final layer norm's, besides the blocks' sites.
    // ranges (when given) records the embedding's, every layer's and the final norm's largest |value|.
    Staged forward(const Staged& x, const Staged& mask_bias, const Staged& encoder_output, SegmentChain& chain,
                   Dropout* dropout = nullptr, ActivationRanges* ranges = nullptr);

    // Adds the gradients of the blocks, the position bias and the final norm for the last forward built.
    struct Gradients {
        Staged embedded;        // d(embed's output), for embedBackward
        Staged encoder_output;  // decoder: d(encoder output); empty for the encoder
    };
    Gradients backward(const Staged& d_out, SegmentChain& chain);
    // Adds the embedding's gradient, on its stage (a pass ends there: both stacks' lookups are updated last).
    void embedBackward(const Staged& d_embedded, SegmentChain& chain);
    // What the last forward built keeps for the backward pass, each on its stage (a pipeline stashes it per
    // micro-batch): the lookups, every block's saved activations (with recomputation its input and the attention
    // biases instead), the final norm's.
    void keptTensors(std::vector<Staged>& out) const;

private:
    // The block context on `stage`, its tensors copied there when first asked for.
    const BlockContext& contextOn(std::size_t stage, SegmentChain& chain);

    Stages& stages_;
    const T5Config& config_;
    bool decoder_;
    std::string name_;
    const Parameter& embedding_;
    const std::vector<BlockWeights>& blocks_;
    const std::vector<std::size_t>& block_stages_;
    const Parameter* final_norm_ = nullptr;
    BlockShape shape_;
    std::unique_ptr<PositionBias> position_bias_;
    poplar::Tensor one_;  // FLOAT scalar 1, the embedding update's scale

    // forward state
    poplar::Tensor ids_;    // the embedding rows looked up (of this rank's shard)
    poplar::Tensor owned_;  // tensor-parallel: FLOAT [rows, 1], 1 where this rank holds the token
    std::map<std::size_t, BlockContext> contexts_;  // by stage; the first is block 0's
    std::vector<BlockSaved> saved_;
    std::vector<poplar::Tensor> inputs_;  // each block's input (what recomputation starts from)
    LayerNormSaved final_saved_;
    Dropout* dropout_ = nullptr;
    DropoutSite embed_dropout_, final_dropout_;
};

}  // namespace ft5::t5
