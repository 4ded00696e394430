#include "t5/stack.h"

#include <popops/DynamicSlice.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

#include "t5/precision.h"
#include "t5/residual.h"

namespace ft5::t5 {

StackWeights addStackParameters(Parameters& params, const T5Config& config, bool decoder, const Parameter& embedding,
                                const ParallelPlan& plan) {
    const std::string name = decoder ? "decoder" : "encoder";
    StackWeights w;
    w.decoder = decoder;
    w.embedding = &embedding;
    const std::size_t layers = decoder ? config.decoder_layers : config.encoder_layers;
    for (std::size_t i = 0; i < layers; ++i) {
        const std::size_t stage = decoder ? plan.decoderStage(i) : plan.encoderStage(i);
        w.stages.push_back(stage);
        w.blocks.push_back(addBlockParameters(params, config, name + ".block." + std::to_string(i), decoder, stage));
    }
    w.position_bias = &params.add(name + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                  {config.buckets, config.heads}, 1, w.stages.front());
    w.final_norm = &params.add(name + ".final_layer_norm.weight", {config.d_model}, -1, w.stages.back());
    return w;
}

Stack::Stack(Stages& stages, const T5Config& config, const StackWeights& weights, std::size_t batch,
             std::size_t len, std::size_t enc_len, const ReplicaGroups& groups)
    : stages_(stages), config_(config), decoder_(weights.decoder), name_(weights.decoder ? "decoder" : "encoder"),
      embedding_(*weights.embedding), blocks_(weights.blocks), block_stages_(weights.stages),
      final_norm_(weights.final_norm), shape_{batch, len, enc_len, &groups} {
    position_bias_ = std::make_unique<PositionBias>(stages.graph(weights.position_bias->stage), *weights.position_bias,
                                                    len, len, 0, !decoder_, config.buckets, config.max_distance,
                                                    name_ + "/position_bias");
    poplar::Graph& embedding_graph = stages.graph(embedding_.stage);
    one_ = embedding_graph.addConstant<float>(poplar::FLOAT, {}, 1.0f, name_ + "/one");
    embedding_graph.setTileMapping(one_, 0);
}

Staged Stack::embed(const poplar::Tensor& ids, SegmentChain& chain) {
    const std::size_t stage = embedding_.stage;
    poplar::Graph& graph = stages_.graph(stage);
    poplar::program::Sequence& prog = chain.on(stage);
    const std::size_t rows = shape_.batch * shape_.len;
    const ReplicaGroups& groups = *shape_.groups;
    fetch(embedding_, prog);
    if (groups.tp() == 1) {
        ids_ = ids;
        owned_ = poplar::Tensor();
        return {popops::multiSlice(graph, embedding_.weight, ids, {0}, {1}, prog, popops::SlicePlan(), {},
                                   name_ + "/embed")
                    .reshape({rows, config_.d_model}),
                stage};
    }
    // vocabulary-parallel: each rank looks up the ids it holds, zero for the others', and the ranks sum
    const ShardRows shard = shardRows(graph, groups, ids, embedding_.weight.dim(0), embedding_.weight.elementType(), prog,
                                        name_ + "/embed_rows");
    ids_ = shard.rows;
    owned_ = shard.owned;
    const poplar::Tensor x =
        popops::multiSlice(graph, embedding_.weight, ids_, {0}, {1}, prog, popops::SlicePlan(), {}, name_ + "/embed")
            .reshape({rows, config_.d_model});
    popops::mulInPlace(graph, x, owned_, prog, name_ + "/embed_owned");
    groups.sumOverShards(x, prog, name_ + "/embed_sum_shards");
    return {x, stage};
}

const BlockContext& Stack::contextOn(std::size_t stage, SegmentChain& chain) {
    const auto here = contexts_.find(stage);
    if (here != contexts_.end()) return here->second;
    const std::size_t home = contexts_.begin()->first;
    const BlockContext& from = contexts_.begin()->second;
    auto to = [&](const poplar::Tensor& t, const char* what) {
        return stages_.to({t, home}, stage, chain, name_ + "/" + what + "_on_stage" + std::to_string(stage)).tensor;
    };
    BlockContext c;
    c.self_bias = to(from.self_bias, "self_bias");
    c.encoder_output = to(from.encoder_output, "encoder_output");
    c.cross_bias = to(from.cross_bias, "cross_bias");
    return contexts_.emplace(stage, c).first->second;
}

Staged Stack::forward(const Staged& embedded, const Staged& mask_bias, const Staged& encoder_output,
                      SegmentChain& chain, Dropout* dropout, ActivationRanges* ranges) {
    dropout_ = dropout;
    shape_.ranges = ranges;
    // the embedding's dropout and the attention biases are made on block 0's stage, beside its position bias (the
    // lookups were made before the other stages' work)
    const std::size_t first = block_stages_.front();
    Staged x = stages_.to(embedded, first, chain, name_ + "/embedded_received");
    poplar::Graph& graph = stages_.graph(first);
    poplar::program::Sequence& prog = chain.on(first);
    x.tensor = dropoutForward(dropout, x.tensor, prog, name_ + "/embed_dropout", embed_dropout_);
    const Precision& precision = shape_.groups->plan().precision;
    x.tensor = residualStream(graph, precision, x.tensor, prog, name_ + "/residual_stream");
    if (ranges) ranges->record(graph, first, name_ + ".embed_tokens", x.tensor, prog);
    const poplar::Tensor mask = stages_.to(mask_bias, first, chain, name_ + "/mask_bias_received").tensor;
    const poplar::Tensor bias = position_bias_->forward(prog).expand({0});  // [1, heads, len, len]
    BlockContext context;
    if (decoder_) {
        // a key after its query is masked, as Hugging Face does: with the lowest value of the bias's type
        const poplar::Type type = bias.elementType();
        std::vector<float> causal(shape_.len * shape_.len, 0.0f);
        for (std::size_t i = 0; i < shape_.len; ++i)
            for (std::size_t j = i + 1; j < shape_.len; ++j) causal[i * shape_.len + j] = precision.maskMinimum();
        const poplar::Tensor causal_mask =
            graph.addConstant<float>(type, {1, 1, shape_.len, shape_.len}, causal, name_ + "/causal_mask");
        graph.setTileMapping(causal_mask, 0);
        context.self_bias = popops::add(graph, bias, causal_mask, prog, name_ + "/self_bias");
        context.encoder_output = stages_.to(encoder_output, first, chain, name_ + "/encoder_output_received").tensor;
        context.cross_bias = mask;
    } else {
        context.self_bias = popops::add(graph, bias, mask, prog, name_ + "/self_bias");
    }
    contexts_.clear();
    contexts_.emplace(first, context);

    saved_.assign(blocks_.size(), BlockSaved{});
    inputs_.assign(blocks_.size(), poplar::Tensor());
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
        const std::size_t stage = block_stages_[i];
        const std::string name = name_ + "/block" + std::to_string(i);
        x = stages_.to(x, stage, chain, name + "/residual_received");
        inputs_[i] = x.tensor;
        const BlockContext& here = contextOn(stage, chain);
        fetch(parametersOf(blocks_[i]), chain.on(stage));
        shape_.stage = stage;
        x.tensor = block(stages_.graph(stage), config_, blocks_[i], shape_, here, x.tensor, chain.on(stage), name,
                         saved_[i], dropout);
    }
    const std::size_t last = final_norm_->stage;
    x = stages_.to(x, last, chain, name_ + "/final_norm_received");
    poplar::program::Sequence& end = chain.on(last);
    fetch(*final_norm_, end);
    x.tensor = dropoutForward(dropout,
                              layerNorm(stages_.graph(last), *final_norm_, x.tensor, config_.eps, end,
                                        name_ + "/final_norm", final_saved_),
                              end, name_ + "/final_dropout", final_dropout_);
    if (ranges) ranges->record(stages_.graph(last), last, name_ + ".final_layer_norm", x.tensor, end);
    shape_.ranges = nullptr;  // a recomputation or another pass records nothing
    return x;
}

Stack::Gradients Stack::backward(const Staged& d_out, SegmentChain& chain) {
    const std::size_t last = final_norm_->stage;
    Staged d_x = stages_.to(d_out, last, chain, name_ + "/d_output_received");
    {
        poplar::program::Sequence& prog = chain.on(last);
        fetch({final_norm_}, prog, true);
        d_x.tensor = layerNormBackward(
            stages_.graph(last), *final_norm_, final_saved_,
            dropoutBackward(dropout_, d_x.tensor, final_dropout_, prog, name_ + "/d_final_dropout"), prog,
            name_ + "/final_norm");
        storeGradient(*final_norm_, prog);
    }
    // every block's scores carry the one position bias: their gradients sum over blocks and rows, carried back
    // with the residual's gradient to block 0's stage
    const std::size_t heads = config_.heads / shape_.groups->tp();  // this rank's
    const std::size_t top = block_stages_.back();
    Staged d_bias{stages_.graph(top).addVariable(poplar::FLOAT, {heads, shape_.len, shape_.len},
                                                 poplar::VariableMappingMethod::LINEAR, name_ + "/d_position_bias"),
                  top};
    popops::zero(stages_.graph(top), d_bias.tensor, chain.on(top), name_ + "/d_position_bias_zero");
    Staged d_encoder;
    for (std::size_t i = blocks_.size(); i-- > 0;) {
        const std::size_t stage = block_stages_[i];
        const std::string name = name_ + "/block" + std::to_string(i);
        poplar::Graph& graph = stages_.graph(stage);
        d_x = stages_.to(d_x, stage, chain, name + "/d_residual_received");
        d_bias = stages_.to(d_bias, stage, chain, name + "/d_position_bias_received");
        if (d_encoder.tensor.valid()) d_encoder = stages_.to(d_encoder, stage, chain, name + "/d_encoder_received");
        poplar::program::Sequence& prog = chain.on(stage);
        const std::vector<const Parameter*> params = parametersOf(blocks_[i]);
        fetch(params, prog, true);
        BlockSaved recomputed;
        if (shape_.groups->plan().recompute) {
            recomputed = replayOf(saved_[i]);
            block(graph, config_, blocks_[i], shape_, contextOn(stage, chain), inputs_[i], prog, name + "/recompute",
                  recomputed, dropout_);
        }
        const BlockSaved& saved = shape_.groups->plan().recompute ? recomputed : saved_[i];
        const BlockGradients g = blockBackward(graph, config_, blocks_[i], shape_, saved, d_x.tensor, prog, name,
                                               dropout_);
        storeGradients(params, prog);
        popops::reduceWithOutput(graph, g.self_scores, d_bias.tensor, {0}, {popops::Operation::ADD, true}, prog,
                                 name_ + "/d_position_bias" + std::to_string(i));
        if (decoder_) {
            if (d_encoder.tensor.valid())
                popops::addInPlace(graph, d_encoder.tensor, g.encoder_output, prog, name_ + "/d_encoder_output");
            else
                d_encoder = {g.encoder_output, stage};
        }
        d_x.tensor = g.x;
    }
    position_bias_->backward(d_bias.tensor, chain.on(d_bias.stage));
    d_x.tensor =
        dropoutBackward(dropout_, d_x.tensor, embed_dropout_, chain.on(d_x.stage), name_ + "/d_embed_dropout");
    return {d_x, d_encoder};
}

void Stack::keptTensors(std::vector<Staged>& out) const {
    out.push_back({ids_, embedding_.stage});
    out.push_back({owned_, embedding_.stage});
    // with recomputation the backward pass builds the blocks again from their inputs and the attention biases
    const bool recompute = shape_.groups->plan().recompute;
    if (recompute)
        for (const auto& [stage, context] : contexts_)
            for (const poplar::Tensor& t : {context.self_bias, context.encoder_output, context.cross_bias})
                out.push_back({t, stage});
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
        if (recompute)
            out.push_back({inputs_[i], block_stages_[i]});
        else
            for (const poplar::Tensor& t : tensorsOf(saved_[i])) out.push_back({t, block_stages_[i]});
    }
    for (const poplar::Tensor& t : tensorsOf(final_saved_)) out.push_back({t, final_norm_->stage});
}

void Stack::embedBackward(const Staged& d_embedded, SegmentChain& chain) {
    const std::size_t stage = embedding_.stage;
    const poplar::Tensor d_x = stages_.to(d_embedded, stage, chain, name_ + "/d_embedding_received").tensor;
    poplar::Graph& graph = stages_.graph(stage);
    poplar::program::Sequence& prog = chain.on(stage);
    // an id another rank holds adds nothing to this rank's rows
    if (owned_.valid()) popops::mulInPlace(graph, d_x, owned_, prog, name_ + "/d_embed_owned");
    fetchGradient(embedding_, prog);
    const poplar::Tensor rows = asFloat(graph, d_x, prog, name_ + "/d_embedding_float");  // the gradient's type
    popops::multiUpdateAdd(graph, embedding_.gradient, rows.reshape({rows.dim(0), 1, config_.d_model}), ids_, one_,
                           {0}, {1}, prog, popops::SlicePlan(), {}, name_ + "/embed_gradient");
    storeGradient(embedding_, prog);
}

}  // namespace ft5::t5
