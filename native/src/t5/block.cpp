#include "t5/block.h"

#include <popops/ElementWise.hpp>

#include "t5/residual.h"

namespace ft5::t5 {

std::vector<poplar::Tensor> tensorsOf(const BlockSaved& saved) {
    std::vector<poplar::Tensor> out;
    for (const auto* norm : {&saved.self_norm, &saved.cross_norm, &saved.ff_norm})
        for (const poplar::Tensor& t : tensorsOf(*norm)) out.push_back(t);
    for (const auto* attention : {&saved.self, &saved.cross})
        for (const poplar::Tensor& t : tensorsOf(*attention)) out.push_back(t);
    for (const poplar::Tensor& t : tensorsOf(saved.ff)) out.push_back(t);
    return out;
}

namespace {

AttentionWeights addAttention(Parameters& params, const T5Config& c, const std::string& prefix, std::size_t stage) {
    const std::size_t d = c.d_model, inner = c.inner();
    AttentionWeights w;
    // Megatron: each rank projects to its own heads and sums its part of o's output with the others'
    w.q = &params.add(prefix + ".q.weight", {inner, d}, 0, stage);
    w.k = &params.add(prefix + ".k.weight", {inner, d}, 0, stage);
    w.v = &params.add(prefix + ".v.weight", {inner, d}, 0, stage);
    w.o = &params.add(prefix + ".o.weight", {d, inner}, 1, stage);
    return w;
}

// "encoder.block.3": the Hugging Face prefix of the block's modules.
std::string modulePrefix(const BlockWeights& w) {
    const std::string& norm = w.self_norm->name;  // "<prefix>.layer.0.layer_norm.weight"
    return norm.substr(0, norm.find(".layer.0."));
}

// The heads of this replica's shard.
AttentionShape attentionShape(const T5Config& c, const BlockShape& s, std::size_t q_len, std::size_t k_len) {
    return AttentionShape{s.batch, q_len, k_len, c.heads / s.groups->tp(), c.d_kv};
}

}  // namespace

BlockWeights addBlockParameters(Parameters& params, const T5Config& c, const std::string& prefix, bool decoder,
                               std::size_t stage) {
    const std::size_t d = c.d_model;
    BlockWeights w;
    w.self = addAttention(params, c, prefix + ".layer.0.SelfAttention", stage);
    w.self_norm = &params.add(prefix + ".layer.0.layer_norm.weight", {d}, -1, stage);
    std::size_t ff_layer = 1;
    if (decoder) {
        w.cross = addAttention(params, c, prefix + ".layer.1.EncDecAttention", stage);
        w.cross_norm = &params.add(prefix + ".layer.1.layer_norm.weight", {d}, -1, stage);
        ff_layer = 2;
    }
    const std::string ff = prefix + ".layer." + std::to_string(ff_layer);
    if (c.feed_forward == FeedForward::GatedGelu) {
        w.ff.wi_0 = &params.add(ff + ".DenseReluDense.wi_0.weight", {c.d_ff, d}, 0, stage);
        w.ff.wi_1 = &params.add(ff + ".DenseReluDense.wi_1.weight", {c.d_ff, d}, 0, stage);
    } else {
        w.ff.wi_0 = &params.add(ff + ".DenseReluDense.wi.weight", {c.d_ff, d}, 0, stage);
    }
    w.ff.wo = &params.add(ff + ".DenseReluDense.wo.weight", {d, c.d_ff}, 1, stage);
    w.ff_norm = &params.add(ff + ".layer_norm.weight", {d}, -1, stage);
    return w;
}

std::vector<const Parameter*> parametersOf(const BlockWeights& w) {
    std::vector<const Parameter*> all{w.self_norm, w.self.q, w.self.k, w.self.v, w.self.o};
    if (w.cross_norm) all.insert(all.end(), {w.cross_norm, w.cross.q, w.cross.k, w.cross.v, w.cross.o});
    all.insert(all.end(), {w.ff_norm, w.ff.wi_0});
    if (w.ff.wi_1) all.push_back(w.ff.wi_1);
    all.push_back(w.ff.wo);
    return all;
}

BlockSaved replayOf(const BlockSaved& saved) {
    BlockSaved again = saved;
    for (DropoutSite* site : {&again.self_out, &again.cross_out, &again.ff_out, &again.self.probs_dropout,
                              &again.cross.probs_dropout, &again.ff.dropout})
        site->replay = true;
    return again;
}

poplar::Tensor block(poplar::Graph& graph, const T5Config& c, const BlockWeights& w, const BlockShape& s,
                     const BlockContext& context, const poplar::Tensor& x, poplar::program::Sequence& prog,
                     const std::string& name, BlockSaved& saved, Dropout* dropout) {
    const std::string module = modulePrefix(w);
    auto range = [&](const std::string& site, const poplar::Tensor& t) {
        if (s.ranges) s.ranges->record(graph, s.stage, module + site, t, prog);
    };
    const poplar::Tensor normed = layerNorm(graph, *w.self_norm, x, c.eps, prog, name + "/self_norm", saved.self_norm);
    const ReplicaGroups& groups = *s.groups;
    const poplar::Tensor self_out = attention(graph, w.self, attentionShape(c, s, s.len, s.len), normed, normed,
                                              context.self_bias, prog, name + "/self", saved.self, dropout);
    groups.sumOverShards(self_out, prog, name + "/self/sum_shards");
    range(".layer.0.SelfAttention", self_out);
    const Precision& precision = groups.plan().precision;
    poplar::Tensor h = residualAdd(graph, precision, x,
                                   dropoutForward(dropout, self_out, prog, name + "/self_dropout", saved.self_out), prog,
                                   name + "/self_residual");
    range(".layer.0", h);
    if (w.cross_norm) {
        const poplar::Tensor q_in = layerNorm(graph, *w.cross_norm, h, c.eps, prog, name + "/cross_norm", saved.cross_norm);
        const poplar::Tensor cross_out =
            attention(graph, w.cross, attentionShape(c, s, s.len, s.enc_len), q_in, context.encoder_output,
                      context.cross_bias, prog, name + "/cross", saved.cross, dropout);
        groups.sumOverShards(cross_out, prog, name + "/cross/sum_shards");
        range(".layer.1.EncDecAttention", cross_out);
        h = residualAdd(graph, precision, h,
                        dropoutForward(dropout, cross_out, prog, name + "/cross_dropout", saved.cross_out), prog,
                        name + "/cross_residual");
        range(".layer.1", h);
    }
    const poplar::Tensor ff_in = layerNorm(graph, *w.ff_norm, h, c.eps, prog, name + "/ff_norm", saved.ff_norm);
    const poplar::Tensor ff_out =
        feedForward(graph, c.feed_forward, precision.mitigations, w.ff, ff_in, prog, name + "/ff", saved.ff, dropout);
    groups.sumOverShards(ff_out, prog, name + "/ff/sum_shards");
    const std::string ff = ".layer." + std::string(w.cross_norm ? "2" : "1");
    if (c.feed_forward == FeedForward::GatedGelu) {
        range(ff + ".DenseReluDense.wi_0", saved.ff.pre);
        range(ff + ".DenseReluDense.wi_1", saved.ff.linear);
    } else {
        range(ff + ".DenseReluDense.wi", saved.ff.pre);  // after the relu
    }
    range(ff + ".DenseReluDense.wo", ff_out);
    const poplar::Tensor out = residualAdd(
        graph, precision, h, dropoutForward(dropout, ff_out, prog, name + "/ff_dropout", saved.ff_out), prog,
        name + "/ff_residual");
    range(ff, out);
    return out;
}

BlockGradients blockBackward(poplar::Graph& graph, const T5Config& c, const BlockWeights& w, const BlockShape& s,
                             const BlockSaved& saved, const poplar::Tensor& d_out, poplar::program::Sequence& prog,
                             const std::string& name, const Dropout* dropout) {
    // each branch sees its output dropout's mask applied to the residual stream's gradient
    auto branch = [&](const poplar::Tensor& d, const DropoutSite& site, const char* what) {
        return dropoutBackward(dropout, d, site, prog, name + "/d_" + what + "_dropout");
    };
    const ReplicaGroups& groups = *s.groups;
    BlockGradients out;
    // the residual passes d_out through; each layer adds its branch's gradient (each shard's part summed first)
    const poplar::Tensor d_ff_in = feedForwardBackward(graph, c.feed_forward, w.ff, saved.ff,
                                                       branch(d_out, saved.ff_out, "ff"), prog, name + "/ff", dropout);
    groups.sumOverShards(d_ff_in, prog, name + "/ff/d_sum_shards");
    poplar::Tensor d_h = popops::add(
        graph, d_out, layerNormBackward(graph, *w.ff_norm, saved.ff_norm, d_ff_in, prog, name + "/ff_norm"), prog,
        name + "/d_ff_residual");
    if (w.cross_norm) {
        const AttentionGradients g = attentionBackward(graph, w.cross, attentionShape(c, s, s.len, s.enc_len),
                                                       saved.cross, branch(d_h, saved.cross_out, "cross"), false, prog,
                                                       name + "/cross", dropout);
        groups.sumOverShards(g.x, prog, name + "/cross/d_sum_shards");
        groups.sumOverShards(g.kv, prog, name + "/cross/d_encoder_sum_shards");
        out.encoder_output = g.kv;
        popops::addInPlace(graph, d_h,
                           layerNormBackward(graph, *w.cross_norm, saved.cross_norm, g.x, prog, name + "/cross_norm"),
                           prog, name + "/d_cross_residual");
    }
    const AttentionGradients g = attentionBackward(graph, w.self, attentionShape(c, s, s.len, s.len), saved.self,
                                                   branch(d_h, saved.self_out, "self"), true, prog, name + "/self",
                                                   dropout);
    groups.sumOverShards(g.x, prog, name + "/self/d_sum_shards");
    out.self_scores = g.scores;
    popops::addInPlace(graph, d_h, layerNormBackward(graph, *w.self_norm, saved.self_norm, g.x, prog, name + "/self_norm"),
                       prog, name + "/d_self_residual");
    out.x = d_h;
    return out;
}

}  // namespace ft5::t5
