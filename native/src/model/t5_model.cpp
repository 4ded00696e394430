#include "model/t5_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "abi/error.h"
#include "model/attention.h"
#include "model/kernels.h"
#include "model/position_bias.h"
#include "model/weight_phase.h"

namespace ft5::model {

using ipu::DeviceBuffer;
using kernels::Dropout;

std::vector<Parameter*> block_parameters(const BlockParams& b) {
    return {b.self_norm, b.self.q,  b.self.k,  b.self.v, b.self.o, b.cross_norm, b.cross.q, b.cross.k,
            b.cross.v,   b.cross.o, b.ff_norm, b.ff.wi0, b.ff.wi1, b.ff.wo};
}

namespace {

uint64_t mix_seed(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void add_into(ThreadPool& pool, float* dst, const float* src, int64_t n) {
    pool.parallel_for(size_t(n), [&](size_t i0, size_t i1) {
        for (size_t i = i0; i < i1; ++i) dst[i] += src[i];
    }, 65536);
}

// Rank r's slice of a dropout stream drawn for all ranks (each rank's elements follow the previous ranks').
Dropout rank_dropout(const Dropout& d, uint32_t rank, int64_t per_rank) {
    return Dropout{d.key + uint64_t(rank) * uint64_t(per_rank), d.p};
}

// Sums the other ranks' partial results into dst: the all-reduce after a row-sharded product.
void reduce_partials(const Collectives& coll, float* dst, const std::vector<DeviceBuffer>& partials, int64_t n) {
    if (partials.empty()) return;
    std::vector<const float*> parts;
    for (const auto& p : partials) parts.push_back(f32(p));
    coll.all_reduce_sum(dst, parts.data(), uint32_t(parts.size()), n);
}

}  // namespace

T5Model::T5Model(const ModelConfig& config, std::shared_ptr<ipu::Device> device, const Placement& placement,
                 unsigned threads)
    : config_(config),
      device_(device),
      placement_(placement),
      collectives_(device),
      params_(device, placement),
      workspace_(device, 0, placement.tp, placement.pp),  // Placement::ipu: ranks are pp IPUs apart
      pool_(threads),
      rng_key_(mix_seed(config.seed)) {
    build_parameters();
    build_segments();
    params_.allocate();
}

void T5Model::build_parameters() {
    const auto& c = config_;
    const uint32_t last = placement_.last_stage();
    if (c.separate_embeddings) {
        encoder_.embed = &params_.add("encoder.embed_tokens.weight", {c.vocab, c.d_model}, 0, 0);
        decoder_.embed = &params_.add("decoder.embed_tokens.weight", {c.vocab, c.d_model}, 0, 0);
    } else {
        Parameter& shared = params_.add("shared.weight", {c.vocab, c.d_model}, 0, 0);
        encoder_.embed = &shared;
        decoder_.embed = &shared;
    }
    build_stack(encoder_, false);
    build_stack(decoder_, true);
    lm_head_ = c.tied ? decoder_.embed : &params_.add("lm_head.weight", {c.vocab, c.d_model}, 0, last);
}

void T5Model::build_stack(StackParams& stack, bool decoder) {
    const auto& c = config_;
    const std::string prefix = decoder ? "decoder." : "encoder.";
    const int64_t layers = decoder ? c.decoder_layers : c.encoder_layers;
    const auto& stages = decoder ? placement_.decoder_stage : placement_.encoder_stage;
    auto attention = [&](const std::string& base, uint32_t st) {
        AttentionParams a;
        a.q = &params_.add(base + ".q.weight", {c.inner(), c.d_model}, 0, st);
        a.k = &params_.add(base + ".k.weight", {c.inner(), c.d_model}, 0, st);
        a.v = &params_.add(base + ".v.weight", {c.inner(), c.d_model}, 0, st);
        a.o = &params_.add(base + ".o.weight", {c.d_model, c.inner()}, 1, st);
        return a;
    };
    for (int64_t i = 0; i < layers; ++i) {
        const uint32_t st = stages[size_t(i)];
        const std::string block = prefix + "block." + std::to_string(i) + ".layer.";
        BlockParams b;
        b.self = attention(block + "0.SelfAttention", st);
        if (i == 0) {
            stack.rel_bias = &params_.add(block + "0.SelfAttention.relative_attention_bias.weight",
                                          {c.buckets, c.heads}, 1, st);
        }
        b.self_norm = &params_.add(block + "0.layer_norm.weight", {c.d_model}, -1, st);
        int ff_layer = 1;
        if (decoder) {
            b.cross = attention(block + "1.EncDecAttention", st);
            b.cross_norm = &params_.add(block + "1.layer_norm.weight", {c.d_model}, -1, st);
            ff_layer = 2;
        }
        const std::string ff = block + std::to_string(ff_layer) + ".DenseReluDense.";
        if (c.gated) {
            b.ff.wi0 = &params_.add(ff + "wi_0.weight", {c.d_ff, c.d_model}, 0, st);
            b.ff.wi1 = &params_.add(ff + "wi_1.weight", {c.d_ff, c.d_model}, 0, st);
        } else {
            b.ff.wi0 = &params_.add(ff + "wi.weight", {c.d_ff, c.d_model}, 0, st);
        }
        b.ff.wo = &params_.add(ff + "wo.weight", {c.d_model, c.d_ff}, 1, st);
        b.ff_norm = &params_.add(block + std::to_string(ff_layer) + ".layer_norm.weight", {c.d_model}, -1, st);
        stack.blocks.push_back(b);
    }
    stack.final_norm = &params_.add(prefix + "final_layer_norm.weight", {c.d_model}, -1, stages.back());
}

void T5Model::build_segments() {
    using Kind = PassStep::Kind;
    std::vector<PassStep> fwd, bwd;
    // The decoder's embedding is looked up with the encoder's, on the first stage, so a pass crosses the stages in
    // order: encoder blocks, then decoder blocks (and a tied lm_head back on the embedding's stage).
    fwd.push_back({Kind::kInputs, 0, encoder_.embed->stage});
    for (uint32_t i = 0; i < encoder_.blocks.size(); ++i) fwd.push_back({Kind::kEncoderBlock, i, encoder_.blocks[i].self.q->stage});
    fwd.push_back({Kind::kEncoderFinal, 0, encoder_.final_norm->stage});
    for (uint32_t i = 0; i < decoder_.blocks.size(); ++i) fwd.push_back({Kind::kDecoderBlock, i, decoder_.blocks[i].self.q->stage});
    fwd.push_back({Kind::kDecoderFinal, 0, decoder_.final_norm->stage});
    fwd.push_back({Kind::kHead, 0, lm_head_->stage});
    bwd.push_back({Kind::kHead, 0, lm_head_->stage});
    bwd.push_back({Kind::kDecoderFinal, 0, decoder_.final_norm->stage});
    for (uint32_t i = uint32_t(decoder_.blocks.size()); i-- > 0;) bwd.push_back({Kind::kDecoderBlock, i, decoder_.blocks[i].self.q->stage});
    bwd.push_back({Kind::kEncoderFinal, 0, encoder_.final_norm->stage});
    for (uint32_t i = uint32_t(encoder_.blocks.size()); i-- > 0;) bwd.push_back({Kind::kEncoderBlock, i, encoder_.blocks[i].self.q->stage});
    bwd.push_back({Kind::kInputs, 0, encoder_.embed->stage});
    auto cut = [](const std::vector<PassStep>& steps) {
        std::vector<PassSegment> segments;
        for (const PassStep& step : steps) {
            if (segments.empty() || segments.back().stage != step.stage) segments.push_back({step.stage, {}});
            segments.back().steps.push_back(step);
        }
        return segments;
    };
    forward_segments_ = cut(fwd);
    backward_segments_ = cut(bwd);
}

void T5Model::move_to_stage(StageBuffer& t, uint32_t stage, const char* name) const {
    if (t.stage == stage || t.empty()) {
        t.stage = stage;
        return;
    }
    t.buffer = copy_to_stage(t.buffer, stage, name);
    t.stage = stage;
}

DeviceBuffer T5Model::copy_to_stage(const DeviceBuffer& source, uint32_t stage, const char* name) const {
    const int64_t n = int64_t(source.bytes() / sizeof(float));
    DeviceBuffer copy = workspace_.alloc_group(rank_ipu(stage, 0), name, n);
    std::memcpy(copy.data(), source.data(), source.bytes());
    collectives_.count_copy(n, placement_.tp);
    return copy;
}

void T5Model::scale_tied_output(float* y, int64_t n) const {
    const float out_scale = float(1.0 / std::sqrt(double(config_.d_model)));
    for (int64_t i = 0; i < n; ++i) y[i] *= out_scale;
}

const float* T5Model::dropped_gradient(const Dropout& drop, const float* dx, int64_t n, DeviceBuffer& scratch,
                                       const char* name) const {
    if (!drop.active()) return dx;
    scratch = workspace_.alloc(name, n);
    kernels::dropout_copy(drop, dx, f32(scratch), n, 0);
    return f32(scratch);
}

const float* T5Model::encoder_output_on(MicroBatchPass& pass, uint32_t stage) const {
    DeviceBuffer& here = pass.enc_out[stage];
    if (here.bytes() != 0) return f32(here);
    // The pipeline hands the encoder output on stage by stage: take it from the nearest earlier stage holding it.
    uint32_t from = stage;
    while (from > 0 && pass.enc_out[from - 1].bytes() == 0) --from;
    from = from > 0 ? from - 1 : uint32_t(std::find_if(pass.enc_out.begin(), pass.enc_out.end(),
                                                         [](const DeviceBuffer& b) { return b.bytes() != 0; }) -
                                            pass.enc_out.begin());
    if (from >= pass.enc_out.size()) fail(FT5_ERR_INTERNAL, "the encoder output is needed after it was freed");
    DeviceBuffer& source = pass.enc_out[from];
    here = copy_to_stage(source, stage, "encoder output (received)");
    // A stage without decoder blocks only passed it on.
    const bool used_there = std::any_of(decoder_.blocks.begin(), decoder_.blocks.end(),
                                        [&](const BlockParams& b) { return b.self.q->stage == from; });
    if (!used_there) source = DeviceBuffer();
    return f32(here);
}

DeviceBuffer T5Model::key_mask(const int32_t* mask, int64_t batch, int64_t len) const {
    DeviceBuffer out = workspace_.alloc("attention mask", batch * len);
    float* m = f32(out);
    for (int64_t i = 0; i < batch * len; ++i) m[i] = (mask == nullptr || mask[i] != 0) ? 0.0f : kernels::kMaskValue;
    return out;
}

void T5Model::embed(const Parameter& table, const int32_t* ids, int64_t rows, float* out) const {
    const int64_t d = config_.d_model;
    if (!table.sharded()) {
        const float* w = part(table).w();
        for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * d, w + int64_t(ids[r]) * d, size_t(d) * 4);
        return;
    }
    // Vocab-sharded lookup: each rank contributes the rows it owns and zeros elsewhere; the all-reduce sums.
    std::memset(out, 0, size_t(rows * d) * 4);
    const int64_t len = table.shard_len();
    for (uint32_t rank = 0; rank < table.shards; ++rank) {
        const float* w = part(table, rank).w();
        const int64_t begin = int64_t(rank) * len;
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t id = ids[r];
            if (id < begin || id >= begin + len) continue;
            const float* src = w + (id - begin) * d;
            float* dst = out + r * d;
            for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
        }
    }
    collectives_.count_all_reduce(table.shards, rows * d);
}

DeviceBuffer T5Model::norm(const Parameter& w, const float* x, int64_t rows) {
    DeviceBuffer y = workspace_.alloc("normed", rows * config_.d_model);
    DeviceBuffer inv = workspace_.alloc("inv_rms", rows);
    kernels::rmsnorm_forward(pool_, x, part(w).w(), f32(y), f32(inv), rows, config_.d_model, config_.eps);
    return y;
}

void T5Model::position_bias(const StackParams& stack, bool decoder, int64_t q_len, int64_t k_len, int64_t q_offset,
                            float* out) const {
    const auto& c = config_;
    const int64_t hr = heads_per_rank();
    for (uint32_t r = 0; r < placement_.tp; ++r) {
        position_bias_forward(part(*stack.rel_bias, r).w(), hr, 0, hr, q_len, k_len, q_offset, !decoder, decoder,
                              c.buckets, c.max_distance, out + int64_t(r) * hr * q_len * k_len);
    }
}

// ------------------------------------------------------------------------------------------ forward

void T5Model::attention_sublayer(const Parameter& norm_w, const AttentionParams& p, DeviceBuffer& x,
                                 int64_t batch, int64_t q_len, const float* kv_src, int64_t k_len,
                                 const float* pos_bias, const float* key_mask_ptr, DropoutStream* dropout,
                                 AttentionActs* keep) {
    const auto& c = config_;
    const int64_t rows = batch * q_len, kv_rows = batch * k_len, d = c.d_model;
    const int64_t hr = heads_per_rank(), inner = inner_per_rank(), tile = q_len * k_len;
    const uint32_t tp = placement_.tp, stage = p.q->stage;
    AttentionActs local;
    AttentionActs& a = keep != nullptr ? *keep : local;
    a.norm.x_in = std::move(x);
    a.norm.normed = workspace_.alloc("attention normed", rows * d);
    a.norm.inv_rms = workspace_.alloc("attention inv_rms", rows);
    kernels::rmsnorm_forward(pool_, f32(a.norm.x_in), part(norm_w).w(), f32(a.norm.normed), f32(a.norm.inv_rms),
                             rows, d, c.eps);
    const float* src = kv_src != nullptr ? kv_src : f32(a.norm.normed);
    a.shards.resize(tp);
    a.drop_probs = dropout != nullptr ? dropout->next(batch * c.heads * tile) : Dropout{};
    x = workspace_.alloc("residual", rows * d);
    std::vector<DeviceBuffer> partials;
    for (uint32_t r = 0; r < tp; ++r) {
        AttentionShardActs& s = a.shards[r];
        const uint32_t ipu = rank_ipu(stage, r);
        s.q = workspace_.alloc_on(ipu, "q", rows * inner);
        s.k = workspace_.alloc_on(ipu, "k", kv_rows * inner);
        s.v = workspace_.alloc_on(ipu, "v", kv_rows * inner);
        kernels::linear(f32(a.norm.normed), part(*p.q, r).w(), f32(s.q), rows, d, inner);
        kernels::linear(src, part(*p.k, r).w(), f32(s.k), kv_rows, d, inner);
        kernels::linear(src, part(*p.v, r).w(), f32(s.v), kv_rows, d, inner);
        s.probs = workspace_.alloc_on(ipu, "attention probabilities", batch * hr * tile);
        s.ctx = workspace_.alloc_on(ipu, "attention context", rows * inner);
        AttentionShape sh{batch, q_len, k_len, hr, c.d_kv, inner, q_len * inner, k_len * inner};
        attention_forward(pool_, sh, f32(s.q), f32(s.k), f32(s.v),
                          pos_bias != nullptr ? pos_bias + int64_t(r) * hr * tile : nullptr, key_mask_ptr,
                          rank_dropout(a.drop_probs, r, batch * hr * tile), f32(s.probs), f32(s.ctx));
        float* out = f32(x);
        if (r > 0) out = f32(partials.emplace_back(workspace_.alloc_on(ipu, "attention output part", rows * d)));
        kernels::linear(f32(s.ctx), part(*p.o, r).w(), out, rows, inner, d);
    }
    reduce_partials(collectives_, f32(x), partials, rows * d);
    a.drop_out = dropout != nullptr ? dropout->next(rows * d) : Dropout{};
    kernels::dropout_apply(pool_, a.drop_out, f32(x), rows * d);
    add_into(pool_, f32(x), f32(a.norm.x_in), rows * d);
}

void T5Model::ffn_sublayer(const BlockParams& block, DeviceBuffer& x, int64_t rows, DropoutStream* dropout,
                           FfnActs* keep) {
    const auto& c = config_;
    const uint32_t tp = placement_.tp, stage = block.ff.wo->stage;
    const int64_t d = c.d_model, f = c.d_ff / tp;
    FfnActs local;
    FfnActs& a = keep != nullptr ? *keep : local;
    a.norm.x_in = std::move(x);
    a.norm.normed = workspace_.alloc("ffn normed", rows * d);
    a.norm.inv_rms = workspace_.alloc("ffn inv_rms", rows);
    kernels::rmsnorm_forward(pool_, f32(a.norm.x_in), part(*block.ff_norm).w(), f32(a.norm.normed),
                             f32(a.norm.inv_rms), rows, d, c.eps);
    a.shards.resize(tp);
    a.drop_hidden = dropout != nullptr ? dropout->next(rows * c.d_ff) : Dropout{};
    x = workspace_.alloc("residual", rows * d);
    std::vector<DeviceBuffer> partials;
    for (uint32_t r = 0; r < tp; ++r) {
        FfnShardActs& s = a.shards[r];
        const uint32_t ipu = rank_ipu(stage, r);
        s.h0 = workspace_.alloc_on(ipu, "ffn wi_0", rows * f);
        kernels::linear(f32(a.norm.normed), part(*block.ff.wi0, r).w(), f32(s.h0), rows, d, f);
        if (c.gated) {
            s.h1 = workspace_.alloc_on(ipu, "ffn wi_1", rows * f);
            kernels::linear(f32(a.norm.normed), part(*block.ff.wi1, r).w(), f32(s.h1), rows, d, f);
        }
        s.act = workspace_.alloc_on(ipu, "ffn activation", rows * f);
        kernels::ffn_activation_forward(pool_, c.gated, f32(s.h0), c.gated ? f32(s.h1) : nullptr, f32(s.act),
                                        rows * f);
        kernels::dropout_apply(pool_, rank_dropout(a.drop_hidden, r, rows * f), f32(s.act), rows * f);
        if (keep == nullptr) {  // inference: the pre-activations are not needed any more
            s.h0 = DeviceBuffer();
            s.h1 = DeviceBuffer();
        }
        float* out = f32(x);
        if (r > 0) out = f32(partials.emplace_back(workspace_.alloc_on(ipu, "ffn output part", rows * d)));
        kernels::linear(f32(s.act), part(*block.ff.wo, r).w(), out, rows, f, d);
    }
    reduce_partials(collectives_, f32(x), partials, rows * d);
    a.drop_out = dropout != nullptr ? dropout->next(rows * d) : Dropout{};
    kernels::dropout_apply(pool_, a.drop_out, f32(x), rows * d);
    add_into(pool_, f32(x), f32(a.norm.x_in), rows * d);
}

void T5Model::ffn_inference(const BlockParams& block, DeviceBuffer& x, int64_t rows) {
    ffn_sublayer(block, x, rows, nullptr, nullptr);
}

void T5Model::block_forward(const BlockParams& b, bool decoder, DeviceBuffer& x, const StackActs& acts,
                            const float* enc, int64_t src_len, BlockActs* keep) {
    const int64_t batch = acts.batch, len = acts.len;
    const WeightPhase phase(device_, replica_, WeightPhase::Mode::kForward, block_parameters(b));
    attention_sublayer(*b.self_norm, b.self, x, batch, len, nullptr, len, f32(acts.pos_bias.buffer),
                       acts.self_key_mask, acts.dropout, keep != nullptr ? &keep->self : nullptr);
    if (decoder) {
        attention_sublayer(*b.cross_norm, b.cross, x, batch, len, enc, src_len, nullptr, acts.enc_key_mask,
                           acts.dropout, keep != nullptr ? &keep->cross : nullptr);
    }
    ffn_sublayer(b, x, batch * len, acts.dropout, keep != nullptr ? &keep->ff : nullptr);
}

// ------------------------------------------------------------------------------------------ forward steps

void T5Model::forward_inputs(MicroBatchPass& pass) {
    const auto& c = config_;
    const BatchView& bv = pass.batch;
    const int64_t d = c.d_model;
    const uint32_t stage = encoder_.embed->stage;
    set_stage(stage);
    pass.enc_out.resize(placement_.pp);
    DropoutStream* dropout = bv.training && c.dropout > 0.0f ? &pass.dropout : nullptr;
    auto start = [&](const StackParams& stack, StackActs& acts, StageBuffer& x, const int32_t* ids, int64_t len,
                     const char* name) {
        acts.batch = bv.batch;
        acts.len = len;
        acts.dropout = dropout;
        if (pass.backward) acts.blocks.resize(stack.blocks.size());
        const int64_t rows = bv.batch * len;
        x.buffer = workspace_.alloc(name, rows * d);
        x.stage = stage;
        embed(*stack.embed, ids, rows, f32(x.buffer));
        acts.drop_embed = dropout != nullptr ? dropout->next(rows * d) : Dropout{};
        kernels::dropout_apply(pool_, acts.drop_embed, f32(x.buffer), rows * d);
    };
    pass.enc_mask = key_mask(bv.attention_mask, bv.batch, bv.src_len);
    pass.enc.self_key_mask = f32(pass.enc_mask);
    start(encoder_, pass.enc, pass.enc_x, bv.input_ids, bv.src_len, "encoder embedding");
    if (!pass.decoder) return;
    if (bv.decoder_attention_mask != nullptr) pass.dec_mask = key_mask(bv.decoder_attention_mask, bv.batch, bv.tgt_len);
    pass.dec.self_key_mask = pass.dec_mask.bytes() != 0 ? f32(pass.dec_mask) : nullptr;
    pass.dec.enc_key_mask = f32(pass.enc_mask);
    start(decoder_, pass.dec, pass.dec_x, bv.decoder_input_ids, bv.tgt_len, "decoder embedding");
}

void T5Model::forward_block(MicroBatchPass& pass, bool decoder, uint32_t index) {
    const auto& c = config_;
    const StackParams& stack = decoder ? decoder_ : encoder_;
    StackActs& acts = decoder ? pass.dec : pass.enc;
    StageBuffer& x = decoder ? pass.dec_x : pass.enc_x;
    const BlockParams& b = stack.blocks[index];
    const uint32_t stage = b.self.q->stage;
    set_stage(stage);
    // The residual stream and the position bias move on to the block's stage; the decoder's embedding travels
    // with the encoder's stream until the decoder blocks take it.
    move_to_stage(x, stage, "residual (received)");
    if (!decoder) move_to_stage(pass.dec_x, stage, "decoder embedding (received)");
    if (index == 0) {
        acts.pos_bias.buffer = workspace_.alloc("position bias", c.heads * acts.len * acts.len);
        acts.pos_bias.stage = stage;
        position_bias(stack, decoder, acts.len, acts.len, 0, f32(acts.pos_bias.buffer));
    } else {
        move_to_stage(acts.pos_bias, stage, "position bias (received)");
    }
    const float* enc = decoder ? encoder_output_on(pass, stage) : nullptr;
    const int64_t src_len = pass.batch.src_len;
    if (pass.backward && placement_.recompute) {
        // Keep the block's input (it enters the first norm) and drop everything else when the block is done.
        BlockActs& ba = acts.blocks[index];
        ba.rng_before = pass.dropout.position;
        BlockActs transient;
        block_forward(b, decoder, x.buffer, acts, enc, src_len, &transient);
        ba.input = std::move(transient.self.norm.x_in);
    } else {
        block_forward(b, decoder, x.buffer, acts, enc, src_len, pass.backward ? &acts.blocks[index] : nullptr);
    }
}

void T5Model::forward_final(MicroBatchPass& pass, bool decoder) {
    const auto& c = config_;
    const StackParams& stack = decoder ? decoder_ : encoder_;
    StackActs& acts = decoder ? pass.dec : pass.enc;
    StageBuffer& x = decoder ? pass.dec_x : pass.enc_x;
    const uint32_t stage = stack.final_norm->stage;
    set_stage(stage);
    move_to_stage(x, stage, "residual (received)");
    const int64_t rows = acts.batch * acts.len, d = c.d_model;
    DeviceBuffer out = workspace_.alloc(decoder ? "decoder output" : "encoder output", rows * d);
    acts.final_inv_rms = workspace_.alloc("final inv_rms", rows);
    kernels::rmsnorm_forward(pool_, f32(x.buffer), part(*stack.final_norm).w(), f32(out), f32(acts.final_inv_rms),
                             rows, d, c.eps);
    acts.drop_final = acts.dropout != nullptr ? acts.dropout->next(rows * d) : Dropout{};
    kernels::dropout_apply(pool_, acts.drop_final, f32(out), rows * d);
    if (pass.backward) acts.final_in = std::move(x.buffer);
    x = StageBuffer();
    acts.pos_bias = StageBuffer();  // a recomputing backward pass makes it again
    if (decoder) {
        pass.dec_out = {std::move(out), stage};
    } else {
        if (pass.outputs.encoder_hidden != nullptr) std::memcpy(pass.outputs.encoder_hidden, out.data(), out.bytes());
        pass.enc_out[stage] = std::move(out);
    }
}

void T5Model::forward_head(MicroBatchPass& pass) {
    const auto& c = config_;
    const BatchView& bv = pass.batch;
    const int64_t B = bv.batch, T = bv.tgt_len, d = c.d_model, V = c.vocab;
    const Parameter& lm = *lm_head_;
    set_stage(lm.stage);
    if (c.tied) scale_tied_output(f32(pass.dec_out.buffer), B * T * d);
    move_to_stage(pass.dec_out, lm.stage, "decoder output (received)");
    const float* y = f32(pass.dec_out.buffer);
    std::vector<DeviceBuffer>& logits = pass.logits;
    if (!lm.sharded()) {
        logits.push_back(workspace_.alloc("logits", B * T * V));
        kernels::linear(y, part(lm).w(), f32(logits[0]), B * T, d, V);
        if (pass.outputs.logits != nullptr) std::memcpy(pass.outputs.logits, logits[0].data(), logits[0].bytes());
        if (bv.labels != nullptr) {
            pass.loss = kernels::cross_entropy(pool_, f32(logits[0]), bv.labels, B * T, V, pass.backward,
                                               pass.loss_weight, &pass.label_count);
        }
    } else {
        // Vocab-sharded lm_head: each rank holds its logits columns; the full logits are gathered only for the host.
        const int64_t len = lm.shard_len();
        for (uint32_t r = 0; r < lm.shards; ++r) {
            logits.push_back(workspace_.alloc_on(rank_ipu(lm.stage, r), "logits shard", B * T * len));
            kernels::linear(y, part(lm, r).w(), f32(logits.back()), B * T, d, len);
        }
        if (pass.outputs.logits != nullptr) {
            for (uint32_t r = 0; r < lm.shards; ++r) {
                const int64_t begin = int64_t(r) * len, cols = std::clamp<int64_t>(V - begin, 0, len);
                for (int64_t i = 0; i < B * T; ++i)
                    std::memcpy(pass.outputs.logits + i * V + begin, f32(logits[r]) + i * len, size_t(cols) * 4);
            }
            collectives_.count_gather(lm.shards, B * T * V);
        }
        if (bv.labels != nullptr) {
            pass.loss = sharded_cross_entropy(logits, bv.labels, B * T, pass.backward, pass.loss_weight,
                                              &pass.label_count);
        }
    }
    if (!pass.backward) {
        logits.clear();
        pass.dec_out = StageBuffer();
    }
}

DeviceBuffer T5Model::encode(const int32_t* ids, const int32_t* mask, int64_t batch, int64_t len) {
    const WeightPhase outer(device_, replica_, WeightPhase::Mode::kForward,
                            {encoder_.embed, encoder_.rel_bias, encoder_.final_norm});
    MicroBatchPass pass;
    pass.decoder = false;
    pass.batch.batch = batch;
    pass.batch.src_len = len;
    pass.batch.input_ids = ids;
    pass.batch.attention_mask = mask;
    forward_inputs(pass);
    for (uint32_t i = 0; i < encoder_.blocks.size(); ++i) forward_block(pass, false, i);
    forward_final(pass, false);
    return std::move(pass.enc_out[encoder_.final_norm->stage]);
}

void T5Model::lm_head_logits(const float* y, int64_t rows, float* logits) {
    const auto& c = config_;
    const Parameter& lm = *lm_head_;
    if (!lm.sharded()) {
        kernels::linear(y, part(lm).w(), logits, rows, c.d_model, c.vocab);
        return;
    }
    const int64_t len = lm.shard_len();
    for (uint32_t r = 0; r < lm.shards; ++r) {
        DeviceBuffer part_logits = workspace_.alloc_on(rank_ipu(lm.stage, r), "logits shard", rows * len);
        kernels::linear(y, part(lm, r).w(), f32(part_logits), rows, c.d_model, len);
        const int64_t begin = int64_t(r) * len, cols = std::clamp<int64_t>(c.vocab - begin, 0, len);
        for (int64_t i = 0; i < rows; ++i)
            std::memcpy(logits + i * c.vocab + begin, f32(part_logits) + i * len, size_t(cols) * 4);
    }
    collectives_.count_gather(lm.shards, rows * c.vocab);
}

// ------------------------------------------------------------------------------------------ running passes

double T5Model::run(const BatchView& bv, const ForwardOutputs& outputs, bool backward, float loss_weight,
                    int64_t* out_count) {
    std::vector<double> losses;
    std::vector<int64_t> counts;
    run_passes({bv}, outputs, backward, loss_weight, losses, counts);
    *out_count = counts[0];
    return losses[0];
}

void T5Model::run_micro_batches(const std::vector<BatchView>& batches, float loss_weight, std::vector<double>& losses) {
    std::vector<int64_t> counts;
    run_passes(batches, {}, true, loss_weight, losses, counts);
}

void T5Model::run_segment(MicroBatchPass& pass, const PassSegment& segment, bool backward) {
    using Kind = PassStep::Kind;
    for (const PassStep& step : segment.steps) {
        const bool dec = step.kind == Kind::kDecoderBlock || step.kind == Kind::kDecoderFinal;
        switch (step.kind) {
            case Kind::kInputs: backward ? backward_inputs(pass) : forward_inputs(pass); break;
            case Kind::kEncoderBlock:
            case Kind::kDecoderBlock:
                backward ? backward_block(pass, dec, step.block) : forward_block(pass, dec, step.block);
                break;
            case Kind::kEncoderFinal:
            case Kind::kDecoderFinal: backward ? backward_final(pass, dec) : forward_final(pass, dec); break;
            case Kind::kHead: backward ? backward_head(pass) : forward_head(pass); break;
        }
    }
}

void T5Model::run_passes(const std::vector<BatchView>& batches, const ForwardOutputs& outputs, bool backward,
                         float loss_weight, std::vector<double>& losses, std::vector<int64_t>& counts) {
    const auto& c = config_;
    const uint32_t reps = placement_.replicas;
    const auto n = uint32_t(batches.size());
    // Data parallel: replica r takes rows [r B/d, (r+1) B/d) of every micro-batch. Its token-mean loss is weighted
    // by its share of the labels, so that the summed gradients equal the gradient of each micro-batch's mean.
    std::vector<std::vector<int64_t>> rep_counts(n, std::vector<int64_t>(reps, 0));
    counts.assign(n, 0);
    for (uint32_t m = 0; m < n; ++m) {
        const BatchView& bv = batches[m];
        if (bv.labels == nullptr) continue;
        const int64_t rows = bv.batch / reps;
        for (uint32_t rep = 0; rep < reps; ++rep) {
            for (int64_t i = rep * rows * bv.tgt_len; i < (rep + 1) * rows * bv.tgt_len; ++i)
                rep_counts[m][rep] += bv.labels[i] != -100;
            counts[m] += rep_counts[m][rep];
        }
    }
    if (backward && reps > 1) {
        // Every replica holds the accumulated sum so far; only replica 0 keeps it, the others add from zero.
        for (size_t i = 0; i < params_.size(); ++i) {
            Parameter& p = params_.at(i);
            for (uint32_t rep = 1; rep < reps; ++rep)
                for (uint32_t r = 0; r < p.tp; ++r) std::memset(p.at(rep, r).grad.data(), 0, p.at(rep, r).grad.bytes());
        }
    }
    bool draws = false;
    for (const BatchView& bv : batches) draws = draws || (bv.training && c.dropout > 0.0f);
    const uint64_t stream_start = rng_counter_;
    std::vector<double> loss_sum(n, 0.0);
    std::vector<std::unique_ptr<MicroBatchPass>> passes(n);
    try {
        for (uint32_t rep = 0; rep < reps; ++rep) {
            replica_ = rep;
            for (uint32_t m = 0; m < n; ++m) {
                const BatchView& bv = batches[m];
                auto pass = std::make_unique<MicroBatchPass>();
                BatchView& v = pass->batch;
                v = bv;
                const int64_t rows = bv.batch / reps, S = bv.src_len, T = bv.tgt_len;
                v.batch = rows;
                v.input_ids += rep * rows * S;
                if (v.attention_mask != nullptr) v.attention_mask += rep * rows * S;
                v.decoder_input_ids += rep * rows * T;
                if (v.labels != nullptr) v.labels += rep * rows * T;
                if (v.decoder_attention_mask != nullptr) v.decoder_attention_mask += rep * rows * T;
                if (outputs.logits != nullptr) pass->outputs.logits = outputs.logits + rep * rows * T * c.vocab;
                if (outputs.encoder_hidden != nullptr)
                    pass->outputs.encoder_hidden = outputs.encoder_hidden + rep * rows * S * c.d_model;
                pass->backward = backward;
                pass->loss_weight = reps == 1 ? loss_weight
                                    : counts[m] > 0
                                        ? float(double(loss_weight) * double(rep_counts[m][rep]) / double(counts[m]))
                                        : 0.0f;
                pass->dropout = {rng_key_, stream_start + (uint64_t(m) * reps + rep) * kPassStride, c.dropout};
                passes[m] = std::move(pass);
            }
            // Phased execution: the parameters outside the blocks stay on chip for the whole step.
            const WeightPhase outer(device_, rep,
                                    backward ? WeightPhase::Mode::kBackward : WeightPhase::Mode::kForward,
                                    {encoder_.embed, encoder_.rel_bias, encoder_.final_norm, decoder_.embed,
                                     decoder_.rel_bias, decoder_.final_norm, lm_head_});
            auto finish = [&](uint32_t m) {
                loss_sum[m] += reps == 1 ? passes[m]->loss : passes[m]->loss * double(passes[m]->label_count);
                passes[m].reset();
            };
            if (!backward) {
                for (uint32_t m = 0; m < n; ++m) {
                    for (const PassSegment& seg : forward_segments_) run_segment(*passes[m], seg, false);
                    finish(m);
                }
                continue;
            }
            std::vector<uint32_t> fwd_stages, bwd_stages;
            for (const PassSegment& seg : forward_segments_) fwd_stages.push_back(seg.stage);
            for (const PassSegment& seg : backward_segments_) bwd_stages.push_back(seg.stage);
            const t5::PipelineOrder order = pipeline_order(placement_.schedule, placement_.pp,
                                                       placement_.weights_location == FT5_MEMORY_STREAMING);
            for (const t5::PipelineTask& task : t5::pipeline_tasks(order, fwd_stages, bwd_stages, placement_.pp, n)) {
                MicroBatchPass& pass = *passes[task.micro_batch];
                if (!task.backward) {
                    run_segment(pass, forward_segments_[task.segment], false);
                } else {
                    run_segment(pass, backward_segments_[task.segment], true);
                    if (task.segment + 1 == backward_segments_.size()) finish(task.micro_batch);
                }
            }
        }
    } catch (...) {
        replica_ = 0;
        workspace_.set_ipu(0);
        throw;
    }
    replica_ = 0;
    workspace_.set_ipu(0);
    if (draws) rng_counter_ = stream_start + uint64_t(n) * reps * kPassStride;
    losses.assign(n, 0.0);
    for (uint32_t m = 0; m < n; ++m) {
        if (reps > 1) collectives_.count_all_reduce(reps, 2);  // loss sum and label count
        losses[m] = reps == 1 ? loss_sum[m] : counts[m] > 0 ? loss_sum[m] / double(counts[m]) : 0.0;
    }
    if (backward) synchronise_gradients();
}

void T5Model::synchronise_gradients() {
    const uint32_t reps = placement_.replicas;
    for (size_t i = 0; i < params_.size(); ++i) {
        Parameter& p = params_.at(i);
        const size_t n = size_t(p.shard_elems);
        if (reps > 1) {
            for (uint32_t r = 0; r < (p.sharded() ? p.tp : 1); ++r) {
                float* dst = p.at(0, r).g();
                std::vector<const float*> others;
                for (uint32_t rep = 1; rep < reps; ++rep) others.push_back(p.at(rep, r).g());
                collectives_.all_reduce_sum(dst, others.data(), uint32_t(others.size()), int64_t(n));
                for (uint32_t rep = 1; rep < reps; ++rep) std::memcpy(p.at(rep, r).g(), dst, n * 4);
            }
        }
        if (!p.sharded()) {
            // Every tp rank computed the same gradient of its replicated copy; the emulator computed it once.
            for (uint32_t rep = 0; rep < reps; ++rep)
                for (uint32_t r = 1; r < p.tp; ++r) std::memcpy(p.at(rep, r).g(), p.at(rep, 0).g(), n * 4);
        }
    }
}

double T5Model::sharded_cross_entropy(std::vector<DeviceBuffer>& logits, const int32_t* labels, int64_t rows,
                                      bool want_grad, float weight, int64_t* out_count) {
    const int64_t V = config_.vocab, len = lm_head_->shard_len();
    const uint32_t tp = uint32_t(logits.size());
    int64_t count = 0;
    for (int64_t r = 0; r < rows; ++r) count += labels[r] != -100 ? 1 : 0;
    *out_count = count;
    const double scale = count > 0 ? double(weight) / double(count) : 0.0;
    auto valid = [&](uint32_t rank) { return std::clamp<int64_t>(V - int64_t(rank) * len, 0, len); };
    // All-reduce (max) of each rank's row maxima, then (sum) of the exponentials and of the label's logit,
    // which only its owner contributes.
    std::vector<float> mx(size_t(rows), -std::numeric_limits<float>::infinity());
    std::vector<double> sum(size_t(rows), 0.0);
    std::vector<float> label_logit(size_t(rows), 0.0f);
    for (uint32_t rank = 0; rank < tp; ++rank) {
        const float* l = f32(logits[rank]);
        const int64_t n = valid(rank);
        for (int64_t r = 0; r < rows; ++r) {
            if (labels[r] == -100) continue;
            for (int64_t j = 0; j < n; ++j) mx[size_t(r)] = std::max(mx[size_t(r)], l[r * len + j]);
        }
    }
    collectives_.count_all_reduce(tp, rows);
    for (uint32_t rank = 0; rank < tp; ++rank) {
        float* l = f32(logits[rank]);
        const int64_t n = valid(rank), begin = int64_t(rank) * len;
        pool_.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
            for (size_t r = r0; r < r1; ++r) {
                float* lr = l + int64_t(r) * len;
                const int32_t label = labels[r];
                if (label == -100) continue;
                if (label >= begin && label < begin + n) label_logit[r] = lr[label - begin];
                double s = 0;
                for (int64_t j = 0; j < n; ++j) {
                    const float e = std::exp(lr[j] - mx[r]);
                    if (want_grad) lr[j] = e;
                    s += e;
                }
                sum[r] += s;
            }
        }, 1);
    }
    collectives_.count_all_reduce(tp, 2 * rows);
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) {
        if (labels[r] == -100) continue;
        total += double(mx[size_t(r)]) + std::log(sum[size_t(r)]) - double(label_logit[size_t(r)]);
    }
    if (want_grad) {
        for (uint32_t rank = 0; rank < tp; ++rank) {
            float* l = f32(logits[rank]);
            const int64_t n = valid(rank), begin = int64_t(rank) * len;
            for (int64_t r = 0; r < rows; ++r) {
                float* lr = l + r * len;
                const int32_t label = labels[r];
                if (label == -100) {
                    std::fill(lr, lr + len, 0.0f);
                    continue;
                }
                const float f = float(scale / sum[size_t(r)]);
                for (int64_t j = 0; j < n; ++j) lr[j] *= f;
                std::fill(lr + n, lr + len, 0.0f);  // vocabulary padding takes no part
                if (label >= begin && label < begin + n) lr[label - begin] -= float(scale);
            }
        }
    }
    return count > 0 ? total / double(count) : 0.0;
}

// ------------------------------------------------------------------------------------------ backward

void T5Model::attention_sublayer_backward(const Parameter& norm_w, const AttentionParams& p, AttentionActs& a,
                                          int64_t batch, int64_t q_len, const float* kv_src, int64_t k_len,
                                          float* dx, float* dkv_src, float* dpos_bias) {
    const auto& c = config_;
    const int64_t rows = batch * q_len, kv_rows = batch * k_len, d = c.d_model;
    const int64_t hr = heads_per_rank(), inner = inner_per_rank(), tile = q_len * k_len;
    const uint32_t tp = placement_.tp, stage = p.q->stage;
    // d(out) = dropout(dx): the residual passes dx through unchanged.
    DeviceBuffer dout_buf;
    const float* dout = dropped_gradient(a.drop_out, dx, rows * d, dout_buf, "d attention output");
    const float* normed = f32(a.norm.normed);
    const float* src = kv_src != nullptr ? kv_src : normed;
    DeviceBuffer dnormed = workspace_.alloc("d attention normed", rows * d);
    std::vector<DeviceBuffer> partials;
    for (uint32_t r = 0; r < tp; ++r) {
        AttentionShardActs& s = a.shards[r];
        const uint32_t ipu = rank_ipu(stage, r);
        kernels::linear_grad_weight(dout, f32(s.ctx), part(*p.o, r).g(), rows, inner, d);
        DeviceBuffer dctx = workspace_.alloc_on(ipu, "d attention context", rows * inner);
        kernels::linear_grad_input(dout, part(*p.o, r).w(), f32(dctx), rows, inner, d);
        s.ctx = DeviceBuffer();

        DeviceBuffer dq = workspace_.alloc_on(ipu, "dq", rows * inner);
        DeviceBuffer dk = workspace_.alloc_on(ipu, "dk", kv_rows * inner);
        DeviceBuffer dv = workspace_.alloc_on(ipu, "dv", kv_rows * inner);
        AttentionShape sh{batch, q_len, k_len, hr, c.d_kv, inner, q_len * inner, k_len * inner};
        attention_backward(pool_, sh, f32(s.q), f32(s.k), f32(s.v), f32(s.probs),
                           rank_dropout(a.drop_probs, r, batch * hr * tile), f32(dctx), f32(dq), f32(dk), f32(dv),
                           dpos_bias != nullptr ? dpos_bias + int64_t(r) * hr * tile : nullptr);
        s.probs = DeviceBuffer();
        dctx = DeviceBuffer();

        kernels::linear_grad_weight(f32(dq), normed, part(*p.q, r).g(), rows, d, inner);
        kernels::linear_grad_weight(f32(dk), src, part(*p.k, r).g(), kv_rows, d, inner);
        kernels::linear_grad_weight(f32(dv), src, part(*p.v, r).g(), kv_rows, d, inner);
        float* dn = f32(dnormed);
        if (r > 0) dn = f32(partials.emplace_back(workspace_.alloc_on(ipu, "d attention normed part", rows * d)));
        kernels::linear_grad_input(f32(dq), part(*p.q, r).w(), dn, rows, d, inner);
        if (kv_src == nullptr) {
            kernels::linear_grad_input(f32(dk), part(*p.k, r).w(), dn, rows, d, inner, 1.0f);
            kernels::linear_grad_input(f32(dv), part(*p.v, r).w(), dn, rows, d, inner, 1.0f);
        } else {
            // Every rank adds its part of d(encoder output): the sum is an all-reduce over the group.
            kernels::linear_grad_input(f32(dk), part(*p.k, r).w(), dkv_src, kv_rows, d, inner, 1.0f);
            kernels::linear_grad_input(f32(dv), part(*p.v, r).w(), dkv_src, kv_rows, d, inner, 1.0f);
        }
        s = AttentionShardActs();
    }
    if (kv_src != nullptr) collectives_.count_all_reduce(tp, kv_rows * d);
    reduce_partials(collectives_, f32(dnormed), partials, rows * d);
    kernels::rmsnorm_backward(pool_, f32(a.norm.x_in), part(norm_w).w(), f32(a.norm.inv_rms), f32(dnormed), dx,
                              part(norm_w).g(), rows, d);
    a = AttentionActs();
}

void T5Model::ffn_sublayer_backward(const BlockParams& block, FfnActs& a, int64_t rows, float* dx) {
    const auto& c = config_;
    const uint32_t tp = placement_.tp, stage = block.ff.wo->stage;
    const int64_t d = c.d_model, f = c.d_ff / tp;
    DeviceBuffer dout_buf;
    const float* dout = dropped_gradient(a.drop_out, dx, rows * d, dout_buf, "d ffn output");
    const float* normed = f32(a.norm.normed);
    DeviceBuffer dnormed = workspace_.alloc("d ffn normed", rows * d);
    std::vector<DeviceBuffer> partials;
    for (uint32_t r = 0; r < tp; ++r) {
        FfnShardActs& s = a.shards[r];
        kernels::linear_grad_weight(dout, f32(s.act), part(*block.ff.wo, r).g(), rows, f, d);
        // The activation buffer now receives its own gradient.
        kernels::linear_grad_input(dout, part(*block.ff.wo, r).w(), f32(s.act), rows, f, d);
        const Dropout drop = rank_dropout(a.drop_hidden, r, rows * f);
        if (drop.active()) kernels::dropout_apply(pool_, drop, f32(s.act), rows * f);
        kernels::ffn_activation_backward(pool_, c.gated, f32(s.h0), c.gated ? f32(s.h1) : nullptr, f32(s.act),
                                         rows * f);
        s.act = DeviceBuffer();
        float* dn = f32(dnormed);
        if (r > 0) {
            dn = f32(partials.emplace_back(workspace_.alloc_on(rank_ipu(stage, r), "d ffn normed part", rows * d)));
        }
        kernels::linear_grad_weight(f32(s.h0), normed, part(*block.ff.wi0, r).g(), rows, d, f);
        kernels::linear_grad_input(f32(s.h0), part(*block.ff.wi0, r).w(), dn, rows, d, f);
        if (c.gated) {
            kernels::linear_grad_weight(f32(s.h1), normed, part(*block.ff.wi1, r).g(), rows, d, f);
            kernels::linear_grad_input(f32(s.h1), part(*block.ff.wi1, r).w(), dn, rows, d, f, 1.0f);
        }
        s = FfnShardActs();
    }
    dout_buf = DeviceBuffer();
    reduce_partials(collectives_, f32(dnormed), partials, rows * d);
    kernels::rmsnorm_backward(pool_, f32(a.norm.x_in), part(*block.ff_norm).w(), f32(a.norm.inv_rms), f32(dnormed),
                              dx, part(*block.ff_norm).g(), rows, d);
    a = FfnActs();
}

// ------------------------------------------------------------------------------------------ backward steps

void T5Model::backward_head(MicroBatchPass& pass) {
    const auto& c = config_;
    const int64_t B = pass.batch.batch, T = pass.batch.tgt_len, d = c.d_model, V = c.vocab;
    const Parameter& lm = *lm_head_;
    set_stage(lm.stage);
    const float* y = f32(pass.dec_out.buffer);
    std::vector<DeviceBuffer>& logits = pass.logits;  // now d(loss)/d(logits)
    DeviceBuffer dy = workspace_.alloc("d decoder output", B * T * d);
    if (!lm.sharded()) {
        // lm_head: dW += dlogits^T y; dy = dlogits W
        kernels::linear_grad_weight(f32(logits[0]), y, part(lm).g(), B * T, d, V);
        kernels::linear_grad_input(f32(logits[0]), part(lm).w(), f32(dy), B * T, d, V);
    } else {
        const int64_t len = lm.shard_len();
        std::vector<DeviceBuffer> partials;
        for (uint32_t r = 0; r < lm.shards; ++r) {
            kernels::linear_grad_weight(f32(logits[r]), y, part(lm, r).g(), B * T, d, len);
            float* out = f32(dy);
            if (r > 0) {
                out = f32(partials.emplace_back(
                    workspace_.alloc_on(rank_ipu(lm.stage, r), "d decoder output part", B * T * d)));
            }
            kernels::linear_grad_input(f32(logits[r]), part(lm, r).w(), out, B * T, d, len);
        }
        reduce_partials(collectives_, f32(dy), partials, B * T * d);
    }
    logits.clear();
    pass.dec_out = StageBuffer();
    if (c.tied) scale_tied_output(f32(dy), B * T * d);
    pass.d_dec = {std::move(dy), lm.stage};
}

void T5Model::backward_final(MicroBatchPass& pass, bool decoder) {
    const auto& c = config_;
    const StackParams& stack = decoder ? decoder_ : encoder_;
    StackActs& acts = decoder ? pass.dec : pass.enc;
    const uint32_t stage = stack.final_norm->stage;
    set_stage(stage);
    const int64_t rows = acts.batch * acts.len, d = c.d_model;
    // Into the final norm comes d(decoder output) from the lm_head, or d(encoder output) from the decoder.
    StageBuffer dout = decoder ? std::move(pass.d_dec) : std::move(pass.d_enc_out);
    if (dout.empty()) dout = {workspace_.alloc("d encoder output", rows * d), stage};
    move_to_stage(dout, stage, "d stack output (received)");
    if (acts.drop_final.active()) kernels::dropout_apply(pool_, acts.drop_final, f32(dout.buffer), rows * d);
    DeviceBuffer dx = workspace_.alloc("d residual", rows * d);
    kernels::rmsnorm_backward(pool_, f32(acts.final_in), part(*stack.final_norm).w(), f32(acts.final_inv_rms),
                              f32(dout.buffer), f32(dx), part(*stack.final_norm).g(), rows, d);
    acts.final_in = DeviceBuffer();
    acts.final_inv_rms = DeviceBuffer();
    (decoder ? pass.d_dec : pass.d_enc) = {std::move(dx), stage};
}

void T5Model::backward_block(MicroBatchPass& pass, bool decoder, uint32_t index) {
    const auto& c = config_;
    const StackParams& stack = decoder ? decoder_ : encoder_;
    StackActs& acts = decoder ? pass.dec : pass.enc;
    StageBuffer& dx = decoder ? pass.d_dec : pass.d_enc;
    const BlockParams& b = stack.blocks[index];
    BlockActs& ba = acts.blocks[index];
    const uint32_t stage = b.self.q->stage;
    const int64_t B = acts.batch, T = acts.len, rows = B * T, S = pass.batch.src_len;
    set_stage(stage);
    // The residual gradient, the position-bias gradient and d(encoder output) travel back through the stages.
    move_to_stage(dx, stage, "d residual (received)");
    if (acts.d_pos_bias.empty()) {
        acts.d_pos_bias = {workspace_.alloc("d position bias", c.heads * T * T), stage};
    } else {
        move_to_stage(acts.d_pos_bias, stage, "d position bias (received)");
    }
    const float* enc = nullptr;
    if (decoder) {
        enc = encoder_output_on(pass, stage);
        if (pass.d_enc_out.empty()) {
            pass.d_enc_out = {workspace_.alloc("d encoder output", B * S * c.d_model), stage};
        } else {
            move_to_stage(pass.d_enc_out, stage, "d encoder output (received)");
        }
    }
    const WeightPhase phase(device_, replica_, WeightPhase::Mode::kBackward, block_parameters(b));
    if (placement_.recompute) {
        // The same forward pass again from the kept input, with the dropout stream where it stood.
        if (acts.pos_bias.empty() || acts.pos_bias.stage != stage) {
            acts.pos_bias = {workspace_.alloc("position bias", c.heads * T * T), stage};
            position_bias(stack, decoder, T, T, 0, f32(acts.pos_bias.buffer));
        }
        DropoutStream replay = pass.dropout;
        replay.position = ba.rng_before;
        DropoutStream* const kept = acts.dropout;
        if (kept != nullptr) acts.dropout = &replay;
        DeviceBuffer x = std::move(ba.input);
        block_forward(b, decoder, x, acts, enc, S, &ba);
        acts.dropout = kept;
    }
    ffn_sublayer_backward(b, ba.ff, rows, f32(dx.buffer));
    if (decoder) {
        attention_sublayer_backward(*b.cross_norm, b.cross, ba.cross, B, T, enc, S, f32(dx.buffer),
                                    f32(pass.d_enc_out.buffer), nullptr);
    }
    attention_sublayer_backward(*b.self_norm, b.self, ba.self, B, T, nullptr, T, f32(dx.buffer), nullptr,
                                f32(acts.d_pos_bias.buffer));
    ba = BlockActs();
    const bool first_on_stage = index == 0 || stack.blocks[index - 1].self.q->stage != stage;
    if (decoder && first_on_stage) pass.enc_out[stage] = DeviceBuffer();  // this stage's decoder blocks are done
    if (index == 0) {
        const int64_t hr = heads_per_rank();
        for (uint32_t r = 0; r < placement_.tp; ++r) {
            position_bias_backward(f32(acts.d_pos_bias.buffer) + int64_t(r) * hr * T * T, hr, 0, hr, T, T, !decoder,
                                   decoder, c.buckets, c.max_distance, part(*stack.rel_bias, r).g());
        }
        acts.d_pos_bias = StageBuffer();
        acts.pos_bias = StageBuffer();
    }
}

void T5Model::embedding_backward(const StackParams& stack, const int32_t* ids, const StackActs& acts, float* dx) {
    const int64_t rows = acts.batch * acts.len, d = config_.d_model;
    if (acts.drop_embed.active()) kernels::dropout_apply(pool_, acts.drop_embed, dx, rows * d);
    const Parameter& table = *stack.embed;
    const int64_t len = table.sharded() ? table.shard_len() : config_.vocab;
    for (uint32_t r = 0; r < table.shards; ++r) {
        float* g = part(table, r).g();
        const int64_t begin = int64_t(r) * len;
        for (int64_t row = 0; row < rows; ++row) {
            const int64_t id = ids[row];
            if (id < begin || id >= begin + len) continue;
            float* gr = g + (id - begin) * d;
            const float* src = dx + row * d;
            for (int64_t j = 0; j < d; ++j) gr[j] += src[j];
        }
    }
}

void T5Model::backward_inputs(MicroBatchPass& pass) {
    const uint32_t stage = encoder_.embed->stage;
    set_stage(stage);
    // The decoder's embedding gradient first, then the encoder's (they add into one table when it is shared).
    move_to_stage(pass.d_dec, stage, "d decoder embedding (received)");
    embedding_backward(decoder_, pass.batch.decoder_input_ids, pass.dec, f32(pass.d_dec.buffer));
    pass.d_dec = StageBuffer();
    move_to_stage(pass.d_enc, stage, "d encoder embedding (received)");
    embedding_backward(encoder_, pass.batch.input_ids, pass.enc, f32(pass.d_enc.buffer));
    pass.d_enc = StageBuffer();
}

}  // namespace ft5::model
