#include "t5/cached_decoding.h"

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
#include "t5/precision.h"
#include "t5/residual.h"
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
    : graph_(graph), stages_(stages), config_(config), decoder_(decoder), shape_(shape),
      groups_(groups), heads_(config.heads / groups.tp()), head_stage_(lm_weight.stage),
      lm_head_(lm_weight, config.tied, config.d_model, groups) {
    shape_.validate();
    encoder_ = std::make_unique<Stack>(stages, config, encoder, shape_.batch, shape_.src_len, shape_.src_len,
                                       groups);
    self_bias_ = std::make_unique<PositionBias>(stages.graph(decoder.position_bias->stage), *decoder.position_bias,
                                                shape_.max_len, shape_.max_len, 0, false, config.buckets,
                                                config.max_distance, "decode/position_bias");
    const std::size_t head_groups = shape_.batch * heads_;
    const poplar::Type type = lm_weight.weight.elementType();  // the activations' (precision.h)
    auto variable = [&](std::size_t stage, poplar::Type of, std::vector<std::size_t> dims, const std::string& name) {
        return stages.graph(stage).addVariable(of, dims, poplar::VariableMappingMethod::LINEAR, name);
    };
    for (std::size_t l = 0; l < decoder.blocks.size(); ++l) {
        const std::string n = "decode/layer" + std::to_string(l);
        LayerCache c;
        c.stage = decoder.stages.at(l);
        c.self_k = variable(c.stage, type, {head_groups, shape_.max_len, config.d_kv}, n + "/self_k");
        c.self_v = variable(c.stage, type, {head_groups, shape_.max_len, config.d_kv}, n + "/self_v");
        c.cross_k = variable(c.stage, type, {head_groups, shape_.src_len, config.d_kv}, n + "/cross_k");
        c.cross_v = variable(c.stage, type, {head_groups, shape_.src_len, config.d_kv}, n + "/cross_v");
        cache_.push_back(c);
        if (at_.count(c.stage)) continue;
        const std::string on = "decode/stage" + std::to_string(c.stage);
        StageState st;
        st.cross_bias = variable(c.stage, type, {shape_.batch, 1, 1, shape_.src_len}, on + "/cross_bias");
        st.self_bias_table = variable(c.stage, type, {heads_, shape_.max_len, shape_.max_len}, on + "/self_bias");
        st.position = variable(c.stage, poplar::UNSIGNED_INT, {1}, on + "/position");
        st.parents = variable(c.stage, poplar::INT, {shape_.batch}, on + "/parents");
        at_.emplace(c.stage, st);
    }
    const std::size_t src = shape_.batch * shape_.src_len;
    ids_ = variable(0, poplar::INT, {src}, "decode/input_ids");
    mask_ = variable(0, poplar::INT, {src}, "decode/attention_mask");
    parents_ = variable(0, poplar::INT, {shape_.batch}, "decode/parents");
    tokens_ = variable(decoder.embedding->stage, poplar::INT, {shape_.batch}, "decode/tokens");
    ids_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeInputIds, set), poplar::INT, src));
    mask_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeAttentionMask, set), poplar::INT, src));
    tokens_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeTokens, set), poplar::INT, shape_.batch));
    parents_in_.emplace(graph.addHostToDeviceFIFO(streamHandle(streams::kDecodeParents, set), poplar::INT, shape_.batch));
    logits_out_.emplace(
        graph.addDeviceToHostFIFO(streamHandle(streams::kDecodeLogits, set), poplar::FLOAT, shape_.batch * lm_weight.weight.dim(0)));
}

std::size_t CachedDecoding::stateBytes(std::size_t stage) const {
    const poplar::Target& target = graph_.getTarget();
    auto bytes = [&](const poplar::Tensor& t) { return t.numElements() * target.getTypeSize(t.elementType()); };
    std::size_t total = 0;
    for (const LayerCache& c : cache_)
        if (c.stage == stage) total += bytes(c.self_k) + bytes(c.self_v) + bytes(c.cross_k) + bytes(c.cross_v);
    if (const auto st = at_.find(stage); st != at_.end())
        total += bytes(st->second.cross_bias) + bytes(st->second.self_bias_table) + bytes(st->second.position) +
                 bytes(st->second.parents);
    return total;
}

poplar::program::Sequence CachedDecoding::begin() {
    using poplar::program::Copy;
    SegmentChain chain;
    poplar::Graph& first = stages_.graph(0);
    {
        poplar::program::Sequence& prog = chain.on(0);
        prog.add(Copy(*ids_in_, ids_));
        prog.add(Copy(*mask_in_, mask_));
    }
    const Precision& precision = groups_.plan().precision;
    const poplar::Type type = decoder_.embedding->weight.elementType();
    const poplar::Tensor mask_bias = maskBias(first, mask_, shape_.batch, shape_.src_len, type,
                                              precision.maskMinimum(), chain.on(0), "decode/mask_bias");
    const poplar::Tensor ids = popops::cast(first, ids_, poplar::UNSIGNED_INT, chain.on(0), "decode/ids_u32").expand({1});
    const Staged embedded = encoder_->embed(ids, chain);
    const Staged encoded = encoder_->forward(embedded, Staged{mask_bias, 0}, Staged{}, chain);

    // the position bias with the causal mask, on the bias's stage; every decoder stage keeps a copy
    const std::size_t bias_stage = decoder_.position_bias->stage;
    poplar::Graph& bias_graph = stages_.graph(bias_stage);
    std::vector<float> causal(shape_.max_len * shape_.max_len, 0.0f);
    for (std::size_t i = 0; i < shape_.max_len; ++i)
        for (std::size_t j = i + 1; j < shape_.max_len; ++j)
            causal[i * shape_.max_len + j] = precision.maskMinimum();
    const poplar::Tensor mask = bias_graph.addConstant<float>(type, {1, shape_.max_len, shape_.max_len},
                                                              causal, "decode/causal_mask");
    bias_graph.setTileMapping(mask, 0);
    poplar::program::Sequence& bias_prog = chain.on(bias_stage);
    const poplar::Tensor self_bias =
        popops::add(bias_graph, self_bias_->forward(bias_prog), mask, bias_prog, "decode/self_bias");

    const AttentionShape s{shape_.batch, 1, shape_.src_len, heads_, config_.d_kv};
    Staged encoded_here = encoded;
    for (std::size_t l = 0; l < cache_.size(); ++l) {
        const LayerCache& c = cache_[l];
        const AttentionWeights& w = decoder_.blocks[l].cross;
        const std::string n = "decode/layer" + std::to_string(l);
        encoded_here = stages_.to(encoded_here, c.stage, chain, "decode/encoded_on_stage" + std::to_string(c.stage));
        poplar::Graph& graph = stages_.graph(c.stage);
        poplar::program::Sequence& prog = chain.on(c.stage);
        if (l == 0 || cache_[l - 1].stage != c.stage) {
            const StageState& st = at_.at(c.stage);
            prog.add(Copy(mask_bias, st.cross_bias));
            prog.add(Copy(self_bias, st.self_bias_table));
            popops::zero(graph, st.position, prog, n + "/position_zero");
        }
        fetch({w.k, w.v}, prog);
        prog.add(Copy(splitHeads(linear(graph, *w.k, encoded_here.tensor, prog, n + "/cross_k"), s, shape_.src_len),
                      c.cross_k));
        prog.add(Copy(splitHeads(linear(graph, *w.v, encoded_here.tensor, prog, n + "/cross_v"), s, shape_.src_len),
                      c.cross_v));
        // a stale entry is masked by the causal bias; zeros keep it finite
        popops::zero(graph, c.self_k, prog, n + "/self_k_zero");
        popops::zero(graph, c.self_v, prog, n + "/self_v_zero");
    }
    return chain.all();
}

poplar::program::Sequence CachedDecoding::step() {
    using poplar::program::Copy;
    poplar::program::Sequence out;
    poplar::Graph& first = stages_.graph(0);
    out.add(Copy(*tokens_in_, tokens_));
    out.add(Copy(*parents_in_, parents_));
    const std::size_t b = shape_.batch, d = config_.d_model;
    // every row-major [batch, ...] cache takes its parent row: gathered, then copied back over itself; only when a
    // row takes another's place (greedy decoding and beams that keep their rows copy nothing)
    std::vector<int> own_rows(b);
    std::iota(own_rows.begin(), own_rows.end(), 0);
    const poplar::Tensor row_ids = first.addConstant<int>(poplar::INT, {b}, own_rows, "decode/row_ids");
    first.setTileMapping(row_ids, 0);
    const poplar::Tensor moved = popops::reduce(
        first, popops::map(first, pe::NotEqual(pe::_1, pe::_2), {parents_, row_ids}, out, "decode/moved_rows"),
        poplar::BOOL, {0}, popops::Operation::LOGICAL_OR, out, "decode/any_moved");
    poplar::program::Sequence reorder_prog;
    std::map<std::size_t, poplar::Tensor> parents_on;  // UNSIGNED_INT [batch, 1] on each decoder stage
    for (const auto& [stage, st] : at_) {
        reorder_prog.add(Copy(parents_, st.parents));
        parents_on[stage] = popops::cast(stages_.graph(stage), st.parents, poplar::UNSIGNED_INT, reorder_prog,
                                         "decode/stage" + std::to_string(stage) + "/parents_u32")
                                .expand({1});
    }
    auto reorder = [&](std::size_t stage, const poplar::Tensor& t, const std::string& name) {
        const poplar::Tensor rows = t.reshape({b, t.numElements() / b});
        reorder_prog.add(Copy(popops::multiSlice(stages_.graph(stage), rows, parents_on.at(stage), {0}, {1},
                                                 reorder_prog, popops::SlicePlan(), {}, name)
                                  .reshape(t.shape()),
                              t));
    };
    for (std::size_t l = 0; l < cache_.size(); ++l) {
        const LayerCache& c = cache_[l];
        const std::string n = "decode/layer" + std::to_string(l) + "/reorder";
        reorder(c.stage, c.self_k, n + "_self_k");
        reorder(c.stage, c.self_v, n + "_self_v");
        reorder(c.stage, c.cross_k, n + "_cross_k");
        reorder(c.stage, c.cross_v, n + "_cross_v");
    }
    for (const auto& [stage, st] : at_)
        reorder(stage, st.cross_bias, "decode/stage" + std::to_string(stage) + "/reorder_cross_bias");
    out.add(poplar::program::If(moved, reorder_prog, poplar::program::Sequence()));

    SegmentChain chain;
    const std::size_t embed_stage = decoder_.embedding->stage;
    poplar::Graph& embed_graph = stages_.graph(embed_stage);
    poplar::program::Sequence& embed_prog = chain.on(embed_stage);
    const poplar::Tensor ids =
        popops::cast(embed_graph, tokens_, poplar::UNSIGNED_INT, embed_prog, "decode/tokens_u32").expand({1});
    Staged x{poplar::Tensor(), embed_stage};
    fetch(*decoder_.embedding, embed_prog);
    if (groups_.tp() == 1) {
        x.tensor = popops::multiSlice(embed_graph, decoder_.embedding->weight, ids, {0}, {1}, embed_prog,
                                      popops::SlicePlan(), {}, "decode/embed")
                       .reshape({b, d});
    } else {
        // vocabulary-parallel, as the stack's embedding
        const ShardRows shard = shardRows(embed_graph, groups_, ids, decoder_.embedding->weight.dim(0),
                                          decoder_.embedding->weight.elementType(), embed_prog, "decode/embed_rows");
        x.tensor = popops::multiSlice(embed_graph, decoder_.embedding->weight, shard.rows, {0}, {1}, embed_prog,
                                      popops::SlicePlan(), {}, "decode/embed")
                       .reshape({b, d});
        popops::mulInPlace(embed_graph, x.tensor, shard.owned, embed_prog, "decode/embed_owned");
        groups_.sumOverShards(x.tensor, embed_prog, "decode/embed_sum_shards");
    }
    const Precision& precision = groups_.plan().precision;
    x.tensor = residualStream(embed_graph, precision, x.tensor, embed_prog, "decode/residual_stream");
    const AttentionShape one{b, 1, 1, heads_, config_.d_kv};
    const AttentionShape self{b, 1, shape_.max_len, heads_, config_.d_kv};
    const AttentionShape cross{b, 1, shape_.src_len, heads_, config_.d_kv};
    poplar::Tensor bias;  // the bias row of this position on the current stage: [1, heads, 1, max_len]
    for (std::size_t l = 0; l < cache_.size(); ++l) {
        const BlockWeights& w = decoder_.blocks[l];
        const LayerCache& c = cache_[l];
        const StageState& st = at_.at(c.stage);
        const std::string n = "decode/layer" + std::to_string(l);
        const bool stage_begins = l == 0 || cache_[l - 1].stage != c.stage;
        x = stages_.to(x, c.stage, chain, n + "/input_received");
        poplar::Graph& graph = stages_.graph(c.stage);
        poplar::program::Sequence& prog = chain.on(c.stage);
        if (stage_begins)
            bias = popops::dynamicSlice(graph, st.self_bias_table, st.position, {1}, {1}, prog, n + "/self_bias_row")
                       .expand({0});
        // each layer's output: this rank's heads (or d_ff) part, summed over the shards
        auto summed = [&](const poplar::Tensor& t, const std::string& name) {
            groups_.sumOverShards(t, prog, name);
            return t;
        };
        fetch(parametersOf(w), prog);
        LayerNormSaved unused;
        const poplar::Tensor h = layerNorm(graph, *w.self_norm, x.tensor, config_.eps, prog, n + "/self_norm", unused);
        const poplar::Tensor q = splitHeads(linear(graph, *w.self.q, h, prog, n + "/q"), one, 1);
        popops::dynamicUpdate(graph, c.self_k, splitHeads(linear(graph, *w.self.k, h, prog, n + "/k"), one, 1),
                              st.position, {1}, {1}, prog, n + "/cache_k");
        popops::dynamicUpdate(graph, c.self_v, splitHeads(linear(graph, *w.self.v, h, prog, n + "/v"), one, 1),
                              st.position, {1}, {1}, prog, n + "/cache_v");
        const poplar::Tensor ctx = attend(graph, self, q, c.self_k, c.self_v, bias, prog, n + "/self");
        x.tensor = residualAdd(graph, precision, x.tensor,
                               summed(linear(graph, *w.self.o, ctx, prog, n + "/o"), n + "/o_sum_shards"), prog,
                               n + "/self_residual");

        const poplar::Tensor hc = layerNorm(graph, *w.cross_norm, x.tensor, config_.eps, prog, n + "/cross_norm", unused);
        const poplar::Tensor qc = splitHeads(linear(graph, *w.cross.q, hc, prog, n + "/cross_q"), one, 1);
        const poplar::Tensor ctx_c = attend(graph, cross, qc, c.cross_k, c.cross_v, st.cross_bias, prog, n + "/cross");
        x.tensor = residualAdd(graph, precision, x.tensor,
                               summed(linear(graph, *w.cross.o, ctx_c, prog, n + "/cross_o"), n + "/cross_o_sum_shards"),
                               prog, n + "/cross_residual");

        const poplar::Tensor hf = layerNorm(graph, *w.ff_norm, x.tensor, config_.eps, prog, n + "/ff_norm", unused);
        FeedForwardSaved ff_unused;
        x.tensor = residualAdd(graph, precision, x.tensor,
                               summed(feedForward(graph, config_.feed_forward, precision.mitigations, w.ff, hf, prog,
                                                  n + "/ff", ff_unused),
                                      n + "/ff_sum_shards"),
                               prog, n + "/ff_residual");
        const bool stage_ends = l + 1 == cache_.size() || cache_[l + 1].stage != c.stage;
        if (stage_ends) popops::mapInPlace(graph, pe::_1 + pe::Const(1u), {st.position}, prog, n + "/next_position");
    }
    const std::size_t norm_stage = decoder_.final_norm->stage;
    x = stages_.to(x, norm_stage, chain, "decode/final_norm_input_received");
    LayerNormSaved unused;
    poplar::program::Sequence& norm_prog = chain.on(norm_stage);
    fetch(*decoder_.final_norm, norm_prog);
    const Staged y{layerNorm(stages_.graph(norm_stage), *decoder_.final_norm, x.tensor, config_.eps, norm_prog,
                             "decode/final_norm", unused),
                   norm_stage};
    const std::size_t head_stage = head_stage_;
    const poplar::Tensor y_here = stages_.to(y, head_stage, chain, "decode/lm_head_input_received").tensor;
    poplar::program::Sequence& head_prog = chain.on(head_stage);
    poplar::Graph& head_graph = stages_.graph(head_stage);
    // the host reads FLOAT logits whatever the activations' type
    head_prog.add(Copy(asFloat(head_graph, lm_head_.forward(head_graph, y_here, head_prog), head_prog,
                               "decode/logits_float"),
                       *logits_out_));
    out.add(chain.all());
    return out;
}

}  // namespace ft5::t5
