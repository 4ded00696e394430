#include "t5/stack.h"

#include <limits>

#include <popops/DynamicSlice.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

namespace ft5::t5 {

StackWeights addStackParameters(Parameters& params, const T5Config& config, bool decoder, const Parameter& embedding) {
    const std::string name = decoder ? "decoder" : "encoder";
    StackWeights w;
    w.decoder = decoder;
    w.embedding = &embedding;
    const std::size_t layers = decoder ? config.decoder_layers : config.encoder_layers;
    for (std::size_t i = 0; i < layers; ++i)
        w.blocks.push_back(addBlockParameters(params, config, name + ".block." + std::to_string(i), decoder));
    w.position_bias = &params.add(name + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                  {config.buckets, config.heads}, 1);
    w.final_norm = &params.add(name + ".final_layer_norm.weight", {config.d_model});
    return w;
}

Stack::Stack(poplar::Graph& graph, const T5Config& config, const StackWeights& weights, std::size_t batch,
             std::size_t len, std::size_t enc_len, const ReplicaGroups& groups)
    : graph_(graph), config_(config), decoder_(weights.decoder),
      name_(weights.decoder ? "decoder" : "encoder"), embedding_(*weights.embedding), blocks_(weights.blocks),
      final_norm_(weights.final_norm), shape_{batch, len, enc_len, &groups} {
    position_bias_ = std::make_unique<PositionBias>(graph, *weights.position_bias, len, len, 0, !decoder_,
                                                    config.buckets, config.max_distance, name_ + "/position_bias");
    one_ = graph.addConstant<float>(poplar::FLOAT, {}, 1.0f, name_ + "/one");
    graph.setTileMapping(one_, 0);
}

poplar::Tensor Stack::forward(const poplar::Tensor& ids, const poplar::Tensor& mask_bias,
                              const poplar::Tensor& encoder_output, poplar::program::Sequence& prog,
                              Dropout* dropout) {
    dropout_ = dropout;
    const std::size_t rows = shape_.batch * shape_.len;
    const ReplicaGroups& groups = *shape_.groups;
    poplar::Tensor x;
    if (groups.tp() == 1) {
        ids_ = ids;
        x = popops::multiSlice(graph_, embedding_.weight, ids, {0}, {1}, prog, popops::SlicePlan(), {},
                               name_ + "/embed")
                .reshape({rows, config_.d_model});
    } else {
        // vocabulary-parallel: each rank looks up the ids it holds, zero for the others', and the ranks sum
        const ShardRows shard = shardRows(graph_, groups, ids, embedding_.weight.dim(0), prog, name_ + "/embed_rows");
        ids_ = shard.rows;
        owned_ = shard.owned;
        x = popops::multiSlice(graph_, embedding_.weight, ids_, {0}, {1}, prog, popops::SlicePlan(), {},
                               name_ + "/embed")
                .reshape({rows, config_.d_model});
        popops::mulInPlace(graph_, x, owned_, prog, name_ + "/embed_owned");
        groups.sumOverShards(x, prog, name_ + "/embed_sum_shards");
    }
    x = dropoutForward(dropout, x, prog, name_ + "/embed_dropout", embed_dropout_);
    const poplar::Tensor bias = position_bias_->forward(prog).expand({0});  // [1, heads, len, len]
    if (decoder_) {
        // a key after its query is masked, as Hugging Face does: with float32's lowest value
        std::vector<float> causal(shape_.len * shape_.len, 0.0f);
        for (std::size_t i = 0; i < shape_.len; ++i)
            for (std::size_t j = i + 1; j < shape_.len; ++j) causal[i * shape_.len + j] = std::numeric_limits<float>::lowest();
        const poplar::Tensor mask =
            graph_.addConstant<float>(poplar::FLOAT, {1, 1, shape_.len, shape_.len}, causal, name_ + "/causal_mask");
        graph_.setTileMapping(mask, 0);
        context_.self_bias = popops::add(graph_, bias, mask, prog, name_ + "/self_bias");
        context_.encoder_output = encoder_output;
        context_.cross_bias = mask_bias;
    } else {
        context_.self_bias = popops::add(graph_, bias, mask_bias, prog, name_ + "/self_bias");
    }
    saved_.assign(blocks_.size(), BlockSaved{});
    for (std::size_t i = 0; i < blocks_.size(); ++i)
        x = block(graph_, config_, blocks_[i], shape_, context_, x, prog, name_ + "/block" + std::to_string(i),
                  saved_[i], dropout);
    return dropoutForward(dropout,
                          layerNorm(graph_, *final_norm_, x, config_.eps, prog, name_ + "/final_norm", final_saved_),
                          prog, name_ + "/final_dropout", final_dropout_);
}

poplar::Tensor Stack::backward(const poplar::Tensor& d_out, poplar::program::Sequence& prog) {
    poplar::Tensor d_x = layerNormBackward(
        graph_, *final_norm_, final_saved_,
        dropoutBackward(dropout_, d_out, final_dropout_, prog, name_ + "/d_final_dropout"), prog, name_ + "/final_norm");
    // every block's scores carry the one position bias: their gradients sum over blocks and rows
    const std::size_t heads = config_.heads / shape_.groups->tp();  // this rank's
    const poplar::Tensor d_bias = graph_.addVariable(poplar::FLOAT, {heads, shape_.len, shape_.len},
                                                     poplar::VariableMappingMethod::LINEAR, name_ + "/d_position_bias");
    popops::zero(graph_, d_bias, prog, name_ + "/d_position_bias_zero");
    poplar::Tensor d_encoder;
    for (std::size_t i = blocks_.size(); i-- > 0;) {
        const BlockGradients g = blockBackward(graph_, config_, blocks_[i], shape_, saved_[i], d_x, prog,
                                               name_ + "/block" + std::to_string(i), dropout_);
        popops::reduceWithOutput(graph_, g.self_scores, d_bias, {0}, {popops::Operation::ADD, true}, prog,
                                 name_ + "/d_position_bias" + std::to_string(i));
        if (decoder_) {
            if (d_encoder.valid())
                popops::addInPlace(graph_, d_encoder, g.encoder_output, prog, name_ + "/d_encoder_output");
            else
                d_encoder = g.encoder_output;
        }
        d_x = g.x;
    }
    position_bias_->backward(d_bias, prog);
    d_x = dropoutBackward(dropout_, d_x, embed_dropout_, prog, name_ + "/d_embed_dropout");
    // an id another rank holds adds nothing to this rank's rows
    if (owned_.valid()) popops::mulInPlace(graph_, d_x, owned_, prog, name_ + "/d_embed_owned");
    popops::multiUpdateAdd(graph_, embedding_.gradient, d_x.reshape({d_x.dim(0), 1, config_.d_model}), ids_, one_,
                           {0}, {1}, prog, popops::SlicePlan(), {}, name_ + "/embed_gradient");
    return d_encoder;
}

}  // namespace ft5::t5
