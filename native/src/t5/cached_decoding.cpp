#include "t5/cached_decoding.h"

#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include <popops/Cast.hpp>
#include <popops/DynamicSlice.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

#include "t5/attention.h"
#include "t5/feed_forward.h"
#include "t5/layer_norm.h"
#include "t5/linear.h"
#include "t5/stream_handle.h"

namespace ft5::t5 {

namespace pe = popops::expr;

void DecodeShape::validate() const {
    if (batch == 0 || src_len == 0 || max_len == 0)
        throw std::invalid_argument("decode shape: batch, source length and cache length must be positive, got " +
                                    std::to_string(batch) + ", " + std::to_string(src_len) + ", " +
                                    std::to_string(max_len));
}

CachedDecoding::CachedDecoding(poplar::Graph& graph, Stages& stages, const T5Config& config, const StackWeights& encoder,
                               const StackWeights& decoder, const Parameter& lm_weight, const DecodeShape& shape,
                               const ReplicaGroups& groups, std::size_t set)
    : graph_(graph), config_(config), decoder_(decoder), shape_(shape),
      groups_(groups), heads_(config.heads / groups.tp()), lm_head_(lm_weight, config.tied, config.d_model, groups) {
    shape_.validate();
    encoder_ = std::make_unique<Stack>(stages, config, encoder, shape_.batch, shape_.src_len, shape_.src_len,
                                       groups);
    self_bias_ = std::make_unique<PositionBias>(graph, *decoder.position_bias, shape_.max_len, shape_.max_len, 0, false,
                                                config.buckets, config.max_distance, "decode/position_bias");
    const std::size_t head_groups = shape_.batch * heads_;
    auto variable = [&](poplar::Type type, std::vector<std::size_t> dims, const std::string& name) {
        return graph.addVariable(type, dims, poplar::VariableMappingMethod::LINEAR, name);
    };
    for (std::size_t l = 0; l < decoder.blocks.size(); ++l) {
        const std::string n = "decode/layer" + std::to_string(l);
        LayerCache c;
        c.self_k = variable(poplar::FLOAT, {head_groups, shape_.max_len, config.d_kv}, n + "/self_k");
        c.self_v = variable(poplar::FLOAT, {head_groups, shape_.max_len, config.d_kv}, n + "/self_v");
        c.cross_k = variable(poplar::FLOAT, {head_groups, shape_.src_len, config.d_kv}, n + "/cross_k");
        c.cross_v = variable(poplar::FLOAT, {head_groups, shape_.src_len, config.d_kv}, n + "/cross_v");
        cache_.push_back(c);
    }
    const std::size_t src = shape_.batch * shape_.src_len;
    ids_ = variable(poplar::INT, {src}, "decode/input_ids");
    mask_ = variable(poplar::INT, {src}, "decode/attention_mask");
    tokens_ = variable(poplar::INT, {shape_.batch}, "decode/tokens");
    parents_ = variable(poplar::INT, {shape_.batch}, "decode/parents");
    cross_bias_ = variable(poplar::FLOAT, {shape_.batch, 1, 1, shape_.src_len}, "decode/cross_bias");
    self_bias_table_ = variable(poplar::FLOAT, {heads_, shape_.max_len, shape_.max_len}, "decode/self_bias");
    position_ = variable(poplar::UNSIGNED_INT, {1}, "decode/position");
    ids_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeInputIds, set), poplar::INT, src));
    mask_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeAttentionMask, set), poplar::INT, src));
    tokens_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeTokens, set), poplar::INT, shape_.batch));
    parents_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeParents, set), poplar::INT, shape_.batch));
    logits_out_.emplace(
        graph.addDeviceToHostFIFO(streamHandle(streams::kDecodeLogits, set), poplar::FLOAT, shape_.batch * lm_weight.weight.dim(0)));
}

poplar::program::Sequence CachedDecoding::begin() {
    using poplar::program::Copy;
    poplar::program::Sequence prog;
    prog.add(Copy(*ids_in_, ids_));
    prog.add(Copy(*mask_in_, mask_));
    const poplar::Tensor mask_bias = maskBias(graph_, mask_, shape_.batch, shape_.src_len, prog, "decode/mask_bias");
    prog.add(Copy(mask_bias, cross_bias_));
    const poplar::Tensor ids = popops::cast(graph_, ids_, poplar::UNSIGNED_INT, prog, "decode/ids_u32").expand({1});
    SegmentChain encoder_pass;
    const Staged embedded = encoder_->embed(ids, encoder_pass);
    const poplar::Tensor encoded = encoder_->forward(embedded, Staged{mask_bias, 0}, Staged{}, encoder_pass).tensor;
    prog.add(encoder_pass.all());
    const AttentionShape s{shape_.batch, 1, shape_.src_len, heads_, config_.d_kv};
    for (std::size_t l = 0; l < cache_.size(); ++l) {
        const AttentionWeights& w = decoder_.blocks[l].cross;
        const std::string n = "decode/layer" + std::to_string(l);
        fetch({w.k, w.v}, prog);
        prog.add(Copy(splitHeads(linear(graph_, *w.k, encoded, prog, n + "/cross_k"), s, shape_.src_len),
                      cache_[l].cross_k));
        prog.add(Copy(splitHeads(linear(graph_, *w.v, encoded, prog, n + "/cross_v"), s, shape_.src_len),
                      cache_[l].cross_v));
        // a stale entry is masked by the causal bias; zeros keep it finite
        popops::zero(graph_, cache_[l].self_k, prog, n + "/self_k_zero");
        popops::zero(graph_, cache_[l].self_v, prog, n + "/self_v_zero");
    }
    std::vector<float> causal(shape_.max_len * shape_.max_len, 0.0f);
    for (std::size_t i = 0; i < shape_.max_len; ++i)
        for (std::size_t j = i + 1; j < shape_.max_len; ++j)
            causal[i * shape_.max_len + j] = std::numeric_limits<float>::lowest();
    const poplar::Tensor mask = graph_.addConstant<float>(poplar::FLOAT, {1, shape_.max_len, shape_.max_len}, causal,
                                                          "decode/causal_mask");
    graph_.setTileMapping(mask, 0);
    prog.add(Copy(popops::add(graph_, self_bias_->forward(prog), mask, prog, "decode/self_bias"), self_bias_table_));
    popops::zero(graph_, position_, prog, "decode/position_zero");
    return prog;
}

poplar::program::Sequence CachedDecoding::step() {
    using poplar::program::Copy;
    poplar::program::Sequence prog;
    prog.add(Copy(*tokens_in_, tokens_));
    prog.add(Copy(*parents_in_, parents_));
    const std::size_t b = shape_.batch, d = config_.d_model;
    // every row-major [batch, ...] cache takes its parent row: gathered, then copied back over itself; only when a
    // row takes another's place (greedy decoding and beams that keep their rows copy nothing)
    const poplar::Tensor parents =
        popops::cast(graph_, parents_, poplar::UNSIGNED_INT, prog, "decode/parents_u32").expand({1});
    std::vector<int> own_rows(b);
    std::iota(own_rows.begin(), own_rows.end(), 0);
    const poplar::Tensor row_ids = graph_.addConstant<int>(poplar::INT, {b}, own_rows, "decode/row_ids");
    graph_.setTileMapping(row_ids, 0);
    const poplar::Tensor moved = popops::reduce(
        graph_, popops::map(graph_, pe::NotEqual(pe::_1, pe::_2), {parents_, row_ids}, prog, "decode/moved_rows"),
        poplar::BOOL, {0}, popops::Operation::LOGICAL_OR, prog, "decode/any_moved");
    poplar::program::Sequence reorder_prog;
    auto reorder = [&](const poplar::Tensor& t, const std::string& name) {
        const poplar::Tensor rows = t.reshape({b, t.numElements() / b});
        reorder_prog.add(
            Copy(popops::multiSlice(graph_, rows, parents, {0}, {1}, reorder_prog, popops::SlicePlan(), {}, name)
                     .reshape(t.shape()),
                 t));
    };
    for (std::size_t l = 0; l < cache_.size(); ++l) {
        const std::string n = "decode/layer" + std::to_string(l) + "/reorder";
        reorder(cache_[l].self_k, n + "_self_k");
        reorder(cache_[l].self_v, n + "_self_v");
        reorder(cache_[l].cross_k, n + "_cross_k");
        reorder(cache_[l].cross_v, n + "_cross_v");
    }
    reorder(cross_bias_, "decode/reorder_cross_bias");
    prog.add(poplar::program::If(moved, reorder_prog, poplar::program::Sequence()));
    const poplar::Tensor ids = popops::cast(graph_, tokens_, poplar::UNSIGNED_INT, prog, "decode/tokens_u32").expand({1});
    poplar::Tensor x;
    fetch(*decoder_.embedding, prog);
    if (groups_.tp() == 1) {
        x = popops::multiSlice(graph_, decoder_.embedding->weight, ids, {0}, {1}, prog, popops::SlicePlan(), {},
                               "decode/embed")
                .reshape({b, d});
    } else {
        // vocabulary-parallel, as the stack's embedding
        const ShardRows shard =
            shardRows(graph_, groups_, ids, decoder_.embedding->weight.dim(0), prog, "decode/embed_rows");
        x = popops::multiSlice(graph_, decoder_.embedding->weight, shard.rows, {0}, {1}, prog, popops::SlicePlan(),
                               {}, "decode/embed")
                .reshape({b, d});
        popops::mulInPlace(graph_, x, shard.owned, prog, "decode/embed_owned");
        groups_.sumOverShards(x, prog, "decode/embed_sum_shards");
    }
    // the bias row of this position: [1, heads, 1, max_len]
    const poplar::Tensor bias =
        popops::dynamicSlice(graph_, self_bias_table_, position_, {1}, {1}, prog, "decode/self_bias_row").expand({0});
    const AttentionShape one{b, 1, 1, heads_, config_.d_kv};
    const AttentionShape self{b, 1, shape_.max_len, heads_, config_.d_kv};
    const AttentionShape cross{b, 1, shape_.src_len, heads_, config_.d_kv};
    // each layer's output: this rank's heads (or d_ff) part, summed over the shards
    auto summed = [&](const poplar::Tensor& t, const std::string& name) {
        groups_.sumOverShards(t, prog, name);
        return t;
    };
    for (std::size_t l = 0; l < cache_.size(); ++l) {
        const BlockWeights& w = decoder_.blocks[l];
        const LayerCache& c = cache_[l];
        const std::string n = "decode/layer" + std::to_string(l);
        fetch(parametersOf(w), prog);
        LayerNormSaved unused;
        const poplar::Tensor h = layerNorm(graph_, *w.self_norm, x, config_.eps, prog, n + "/self_norm", unused);
        const poplar::Tensor q = splitHeads(linear(graph_, *w.self.q, h, prog, n + "/q"), one, 1);
        popops::dynamicUpdate(graph_, c.self_k, splitHeads(linear(graph_, *w.self.k, h, prog, n + "/k"), one, 1),
                              position_, {1}, {1}, prog, n + "/cache_k");
        popops::dynamicUpdate(graph_, c.self_v, splitHeads(linear(graph_, *w.self.v, h, prog, n + "/v"), one, 1),
                              position_, {1}, {1}, prog, n + "/cache_v");
        const poplar::Tensor ctx = attend(graph_, self, q, c.self_k, c.self_v, bias, prog, n + "/self");
        x = popops::add(graph_, x, summed(linear(graph_, *w.self.o, ctx, prog, n + "/o"), n + "/o_sum_shards"), prog,
                        n + "/self_residual");

        const poplar::Tensor hc = layerNorm(graph_, *w.cross_norm, x, config_.eps, prog, n + "/cross_norm", unused);
        const poplar::Tensor qc = splitHeads(linear(graph_, *w.cross.q, hc, prog, n + "/cross_q"), one, 1);
        const poplar::Tensor ctx_c = attend(graph_, cross, qc, c.cross_k, c.cross_v, cross_bias_, prog, n + "/cross");
        x = popops::add(graph_, x,
                        summed(linear(graph_, *w.cross.o, ctx_c, prog, n + "/cross_o"), n + "/cross_o_sum_shards"),
                        prog, n + "/cross_residual");

        const poplar::Tensor hf = layerNorm(graph_, *w.ff_norm, x, config_.eps, prog, n + "/ff_norm", unused);
        FeedForwardSaved ff_unused;
        x = popops::add(graph_, x,
                        summed(feedForward(graph_, config_.feed_forward, w.ff, hf, prog, n + "/ff", ff_unused),
                               n + "/ff_sum_shards"),
                        prog, n + "/ff_residual");
    }
    LayerNormSaved unused;
    fetch(*decoder_.final_norm, prog);
    const poplar::Tensor y = layerNorm(graph_, *decoder_.final_norm, x, config_.eps, prog, "decode/final_norm", unused);
    prog.add(Copy(lm_head_.forward(graph_, y, prog), *logits_out_));
    popops::mapInPlace(graph_, pe::_1 + pe::Const(1u), {position_}, prog, "decode/next_position");
    return prog;
}

}  // namespace ft5::t5
