#include "model/t5_model.h"

#include <cmath>
#include <cstring>
#include <string>

#include "abi/error.h"
#include "model/attention.h"
#include "model/kernels.h"
#include "model/position_bias.h"

namespace ft5::model {

using ipu::DeviceBuffer;
using kernels::Dropout;

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

}  // namespace

T5Model::T5Model(const ModelConfig& config, std::shared_ptr<ipu::Device> device, uint32_t ipu, unsigned threads)
    : config_(config),
      device_(device),
      params_(device, ipu),
      workspace_(device, ipu),
      pool_(threads),
      rng_key_(mix_seed(config.seed)) {
    build_parameters();
}

void T5Model::build_parameters() {
    const auto& c = config_;
    if (c.separate_embeddings) {
        encoder_.embed = &params_.add("encoder.embed_tokens.weight", {c.vocab, c.d_model}, 0);
        decoder_.embed = &params_.add("decoder.embed_tokens.weight", {c.vocab, c.d_model}, 0);
    } else {
        Parameter& shared = params_.add("shared.weight", {c.vocab, c.d_model}, 0);
        encoder_.embed = &shared;
        decoder_.embed = &shared;
    }
    build_stack(encoder_, false);
    build_stack(decoder_, true);
    lm_head_ = c.tied ? decoder_.embed : &params_.add("lm_head.weight", {c.vocab, c.d_model}, 0);
}

void T5Model::build_stack(StackParams& stack, bool decoder) {
    const auto& c = config_;
    const std::string prefix = decoder ? "decoder." : "encoder.";
    const int64_t layers = decoder ? c.decoder_layers : c.encoder_layers;
    auto attention = [&](const std::string& base) {
        AttentionParams a;
        a.q = &params_.add(base + ".q.weight", {c.inner(), c.d_model}, 0);
        a.k = &params_.add(base + ".k.weight", {c.inner(), c.d_model}, 0);
        a.v = &params_.add(base + ".v.weight", {c.inner(), c.d_model}, 0);
        a.o = &params_.add(base + ".o.weight", {c.d_model, c.inner()}, 1);
        return a;
    };
    for (int64_t i = 0; i < layers; ++i) {
        const std::string block = prefix + "block." + std::to_string(i) + ".layer.";
        BlockParams b;
        b.self = attention(block + "0.SelfAttention");
        if (i == 0) {
            stack.rel_bias = &params_.add(block + "0.SelfAttention.relative_attention_bias.weight",
                                          {c.buckets, c.heads}, 1);
        }
        b.self_norm = &params_.add(block + "0.layer_norm.weight", {c.d_model}, -1);
        int ff_layer = 1;
        if (decoder) {
            b.cross = attention(block + "1.EncDecAttention");
            b.cross_norm = &params_.add(block + "1.layer_norm.weight", {c.d_model}, -1);
            ff_layer = 2;
        }
        const std::string ff = block + std::to_string(ff_layer) + ".DenseReluDense.";
        if (c.gated) {
            b.ff.wi0 = &params_.add(ff + "wi_0.weight", {c.d_ff, c.d_model}, 0);
            b.ff.wi1 = &params_.add(ff + "wi_1.weight", {c.d_ff, c.d_model}, 0);
        } else {
            b.ff.wi0 = &params_.add(ff + "wi.weight", {c.d_ff, c.d_model}, 0);
        }
        b.ff.wo = &params_.add(ff + "wo.weight", {c.d_model, c.d_ff}, 1);
        b.ff_norm = &params_.add(block + std::to_string(ff_layer) + ".layer_norm.weight", {c.d_model}, -1);
        stack.blocks.push_back(b);
    }
    stack.final_norm = &params_.add(prefix + "final_layer_norm.weight", {c.d_model}, -1);
}

Dropout T5Model::next_dropout(bool training, int64_t count) {
    if (!training || config_.dropout <= 0.0f) return {};
    Dropout d{rng_key_ + rng_counter_, config_.dropout};
    rng_counter_ += uint64_t(count);
    return d;
}

DeviceBuffer T5Model::key_mask(const int32_t* mask, int64_t batch, int64_t len) const {
    DeviceBuffer out = workspace_.alloc("attention mask", batch * len);
    float* m = f32(out);
    for (int64_t i = 0; i < batch * len; ++i) m[i] = (mask == nullptr || mask[i] != 0) ? 0.0f : kernels::kMaskValue;
    return out;
}

void T5Model::embed(const Parameter& table, const int32_t* ids, int64_t rows, float* out) const {
    const int64_t d = config_.d_model;
    for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * d, table.w() + int64_t(ids[r]) * d, size_t(d) * 4);
}

DeviceBuffer T5Model::norm(const Parameter& w, const float* x, int64_t rows) {
    DeviceBuffer y = workspace_.alloc("normed", rows * config_.d_model);
    DeviceBuffer inv = workspace_.alloc("inv_rms", rows);
    kernels::rmsnorm_forward(pool_, x, w.w(), f32(y), f32(inv), rows, config_.d_model, config_.eps);
    return y;
}

// ------------------------------------------------------------------------------------------ forward

void T5Model::attention_sublayer(Parameter& norm_w, const AttentionParams& p, DeviceBuffer& x, int64_t batch,
                                 int64_t q_len, const float* kv_src, int64_t k_len, const float* pos_bias,
                                 const float* key_mask_ptr, bool training, AttentionActs* keep) {
    const auto& c = config_;
    const int64_t rows = batch * q_len, kv_rows = batch * k_len, inner = c.inner(), d = c.d_model;
    AttentionActs local;
    AttentionActs& a = keep != nullptr ? *keep : local;
    a.norm.x_in = std::move(x);
    a.norm.normed = workspace_.alloc("attention normed", rows * d);
    a.norm.inv_rms = workspace_.alloc("attention inv_rms", rows);
    kernels::rmsnorm_forward(pool_, f32(a.norm.x_in), norm_w.w(), f32(a.norm.normed), f32(a.norm.inv_rms), rows, d,
                             c.eps);
    const float* src = kv_src != nullptr ? kv_src : f32(a.norm.normed);
    a.q = workspace_.alloc("q", rows * inner);
    a.k = workspace_.alloc("k", kv_rows * inner);
    a.v = workspace_.alloc("v", kv_rows * inner);
    kernels::linear(f32(a.norm.normed), p.q->w(), f32(a.q), rows, d, inner);
    kernels::linear(src, p.k->w(), f32(a.k), kv_rows, d, inner);
    kernels::linear(src, p.v->w(), f32(a.v), kv_rows, d, inner);
    a.probs = workspace_.alloc("attention probabilities", batch * c.heads * q_len * k_len);
    a.ctx = workspace_.alloc("attention context", rows * inner);
    a.drop_probs = next_dropout(training, batch * c.heads * q_len * k_len);
    AttentionShape s{batch, q_len, k_len, c.heads, c.d_kv, inner, q_len * inner, k_len * inner};
    attention_forward(pool_, s, f32(a.q), f32(a.k), f32(a.v), pos_bias, key_mask_ptr, a.drop_probs, f32(a.probs),
                      f32(a.ctx));
    x = workspace_.alloc("residual", rows * d);
    kernels::linear(f32(a.ctx), p.o->w(), f32(x), rows, inner, d);
    a.drop_out = next_dropout(training, rows * d);
    kernels::dropout_apply(pool_, a.drop_out, f32(x), rows * d);
    add_into(pool_, f32(x), f32(a.norm.x_in), rows * d);
}

void T5Model::ffn_sublayer(const BlockParams& block, DeviceBuffer& x, int64_t rows, bool training, FfnActs* keep) {
    const auto& c = config_;
    const int64_t d = c.d_model, f = c.d_ff;
    FfnActs local;
    FfnActs& a = keep != nullptr ? *keep : local;
    a.norm.x_in = std::move(x);
    a.norm.normed = workspace_.alloc("ffn normed", rows * d);
    a.norm.inv_rms = workspace_.alloc("ffn inv_rms", rows);
    kernels::rmsnorm_forward(pool_, f32(a.norm.x_in), block.ff_norm->w(), f32(a.norm.normed), f32(a.norm.inv_rms),
                             rows, d, c.eps);
    a.h0 = workspace_.alloc("ffn wi_0", rows * f);
    kernels::linear(f32(a.norm.normed), block.ff.wi0->w(), f32(a.h0), rows, d, f);
    if (c.gated) {
        a.h1 = workspace_.alloc("ffn wi_1", rows * f);
        kernels::linear(f32(a.norm.normed), block.ff.wi1->w(), f32(a.h1), rows, d, f);
    }
    a.act = workspace_.alloc("ffn activation", rows * f);
    kernels::ffn_activation_forward(pool_, c.gated, f32(a.h0), c.gated ? f32(a.h1) : nullptr, f32(a.act), rows * f);
    a.drop_hidden = next_dropout(training, rows * f);
    kernels::dropout_apply(pool_, a.drop_hidden, f32(a.act), rows * f);
    if (keep == nullptr) {  // inference: the pre-activations are not needed any more
        a.h0 = DeviceBuffer();
        a.h1 = DeviceBuffer();
    }
    x = workspace_.alloc("residual", rows * d);
    kernels::linear(f32(a.act), block.ff.wo->w(), f32(x), rows, f, d);
    a.drop_out = next_dropout(training, rows * d);
    kernels::dropout_apply(pool_, a.drop_out, f32(x), rows * d);
    add_into(pool_, f32(x), f32(a.norm.x_in), rows * d);
}

void T5Model::ffn_inference(const BlockParams& block, DeviceBuffer& x, int64_t rows) {
    ffn_sublayer(block, x, rows, false, nullptr);
}

DeviceBuffer T5Model::stack_forward(const StackParams& stack, bool decoder, const int32_t* ids, int64_t batch,
                                    int64_t len, const float* self_key_mask, const float* enc, int64_t src_len,
                                    const float* enc_key_mask, bool training, StackActs& acts, bool keep) {
    const auto& c = config_;
    const int64_t rows = batch * len, d = c.d_model;
    acts.batch = batch;
    acts.len = len;
    DeviceBuffer x = workspace_.alloc(decoder ? "decoder embedding" : "encoder embedding", rows * d);
    embed(*stack.embed, ids, rows, f32(x));
    acts.drop_embed = next_dropout(training, rows * d);
    kernels::dropout_apply(pool_, acts.drop_embed, f32(x), rows * d);
    acts.pos_bias = workspace_.alloc("position bias", c.heads * len * len);
    position_bias_forward(stack.rel_bias->w(), c.heads, 0, c.heads, len, len, 0, !decoder, decoder, c.buckets,
                          c.max_distance, f32(acts.pos_bias));
    if (keep) acts.blocks.resize(stack.blocks.size());
    for (size_t i = 0; i < stack.blocks.size(); ++i) {
        const BlockParams& b = stack.blocks[i];
        BlockActs* ba = keep ? &acts.blocks[i] : nullptr;
        attention_sublayer(*b.self_norm, b.self, x, batch, len, nullptr, len, f32(acts.pos_bias), self_key_mask,
                           training, ba != nullptr ? &ba->self : nullptr);
        if (decoder) {
            attention_sublayer(*b.cross_norm, b.cross, x, batch, len, enc, src_len, nullptr, enc_key_mask, training,
                               ba != nullptr ? &ba->cross : nullptr);
        }
        ffn_sublayer(b, x, rows, training, ba != nullptr ? &ba->ff : nullptr);
    }
    DeviceBuffer out = workspace_.alloc(decoder ? "decoder output" : "encoder output", rows * d);
    acts.final_inv_rms = workspace_.alloc("final inv_rms", rows);
    kernels::rmsnorm_forward(pool_, f32(x), stack.final_norm->w(), f32(out), f32(acts.final_inv_rms), rows, d, c.eps);
    acts.drop_final = next_dropout(training, rows * d);
    kernels::dropout_apply(pool_, acts.drop_final, f32(out), rows * d);
    if (keep) acts.final_in = std::move(x);
    return out;
}

DeviceBuffer T5Model::encode(const int32_t* ids, const int32_t* mask, int64_t batch, int64_t len) {
    StackActs acts;
    DeviceBuffer km = key_mask(mask, batch, len);
    return stack_forward(encoder_, false, ids, batch, len, f32(km), nullptr, 0, nullptr, false, acts, false);
}

double T5Model::run(const BatchView& bv, const ForwardOutputs& outputs, bool backward, float loss_weight,
                    int64_t* out_count) {
    const auto& c = config_;
    const int64_t B = bv.batch, S = bv.src_len, T = bv.tgt_len, d = c.d_model, V = c.vocab;
    const bool training = bv.training;
    *out_count = 0;

    DeviceBuffer enc_mask = key_mask(bv.attention_mask, B, S);
    DeviceBuffer dec_mask;
    if (bv.decoder_attention_mask != nullptr) dec_mask = key_mask(bv.decoder_attention_mask, B, T);

    StackActs enc_acts;
    DeviceBuffer enc = stack_forward(encoder_, false, bv.input_ids, B, S, f32(enc_mask), nullptr, 0, nullptr,
                                     training, enc_acts, backward);
    if (outputs.encoder_hidden != nullptr) std::memcpy(outputs.encoder_hidden, f32(enc), size_t(B * S * d) * 4);

    StackActs dec_acts;
    DeviceBuffer y = stack_forward(decoder_, true, bv.decoder_input_ids, B, T,
                                   dec_mask.bytes() != 0 ? f32(dec_mask) : nullptr, f32(enc), S, f32(enc_mask),
                                   training, dec_acts, backward);
    const float out_scale = c.tied ? float(1.0 / std::sqrt(double(d))) : 1.0f;
    if (c.tied) {
        float* yp = f32(y);
        for (int64_t i = 0; i < B * T * d; ++i) yp[i] *= out_scale;
    }
    DeviceBuffer logits = workspace_.alloc("logits", B * T * V);
    kernels::linear(f32(y), lm_head_->w(), f32(logits), B * T, d, V);
    if (outputs.logits != nullptr) std::memcpy(outputs.logits, f32(logits), size_t(B * T * V) * 4);

    double loss = 0;
    if (bv.labels != nullptr) {
        loss = kernels::cross_entropy(pool_, f32(logits), bv.labels, B * T, V, backward, loss_weight, out_count);
    }
    if (!backward) return loss;

    // lm_head: dW += dlogits^T y; dy = dlogits W (then the tied scale)
    kernels::linear_grad_weight(f32(logits), f32(y), lm_head_->g(), B * T, d, V);
    DeviceBuffer dy = workspace_.alloc("d decoder output", B * T * d);
    kernels::linear_grad_input(f32(logits), lm_head_->w(), f32(dy), B * T, d, V);
    logits = DeviceBuffer();
    y = DeviceBuffer();
    if (c.tied) {
        float* p = f32(dy);
        for (int64_t i = 0; i < B * T * d; ++i) p[i] *= out_scale;
    }
    DeviceBuffer denc = workspace_.alloc("d encoder output", B * S * d);
    stack_backward(decoder_, true, bv.decoder_input_ids, dec_acts, f32(dy), f32(enc), S, f32(denc));
    dy = DeviceBuffer();
    stack_backward(encoder_, false, bv.input_ids, enc_acts, f32(denc), nullptr, 0, nullptr);
    return loss;
}

// ------------------------------------------------------------------------------------------ backward

void T5Model::attention_sublayer_backward(Parameter& norm_w, const AttentionParams& p, AttentionActs& a,
                                          int64_t batch, int64_t q_len, const float* kv_src, int64_t k_len,
                                          float* dx, float* dkv_src, float* dpos_bias) {
    const auto& c = config_;
    const int64_t rows = batch * q_len, kv_rows = batch * k_len, inner = c.inner(), d = c.d_model;
    // d(out) = dropout(dx): the residual passes dx through unchanged.
    DeviceBuffer dout_buf;
    const float* dout = dx;
    if (a.drop_out.active()) {
        dout_buf = workspace_.alloc("d attention output", rows * d);
        kernels::dropout_copy(a.drop_out, dx, f32(dout_buf), rows * d, 0);
        dout = f32(dout_buf);
    }
    kernels::linear_grad_weight(dout, f32(a.ctx), p.o->g(), rows, inner, d);
    DeviceBuffer dctx = workspace_.alloc("d attention context", rows * inner);
    kernels::linear_grad_input(dout, p.o->w(), f32(dctx), rows, inner, d);
    dout_buf = DeviceBuffer();
    a.ctx = DeviceBuffer();

    DeviceBuffer dq = workspace_.alloc("dq", rows * inner);
    DeviceBuffer dk = workspace_.alloc("dk", kv_rows * inner);
    DeviceBuffer dv = workspace_.alloc("dv", kv_rows * inner);
    AttentionShape s{batch, q_len, k_len, c.heads, c.d_kv, inner, q_len * inner, k_len * inner};
    attention_backward(pool_, s, f32(a.q), f32(a.k), f32(a.v), f32(a.probs), a.drop_probs, f32(dctx), f32(dq),
                       f32(dk), f32(dv), dpos_bias);
    a.probs = DeviceBuffer();
    dctx = DeviceBuffer();

    const float* normed = f32(a.norm.normed);
    const float* src = kv_src != nullptr ? kv_src : normed;
    kernels::linear_grad_weight(f32(dq), normed, p.q->g(), rows, d, inner);
    kernels::linear_grad_weight(f32(dk), src, p.k->g(), kv_rows, d, inner);
    kernels::linear_grad_weight(f32(dv), src, p.v->g(), kv_rows, d, inner);
    DeviceBuffer dnormed = workspace_.alloc("d attention normed", rows * d);
    kernels::linear_grad_input(f32(dq), p.q->w(), f32(dnormed), rows, d, inner);
    if (kv_src == nullptr) {
        kernels::linear_grad_input(f32(dk), p.k->w(), f32(dnormed), rows, d, inner, 1.0f);
        kernels::linear_grad_input(f32(dv), p.v->w(), f32(dnormed), rows, d, inner, 1.0f);
    } else {
        kernels::linear_grad_input(f32(dk), p.k->w(), dkv_src, kv_rows, d, inner, 1.0f);
        kernels::linear_grad_input(f32(dv), p.v->w(), dkv_src, kv_rows, d, inner, 1.0f);
    }
    kernels::rmsnorm_backward(pool_, f32(a.norm.x_in), norm_w.w(), f32(a.norm.inv_rms), f32(dnormed), dx, norm_w.g(),
                              rows, d);
    a = AttentionActs();
}

void T5Model::ffn_sublayer_backward(const BlockParams& block, FfnActs& a, int64_t rows, float* dx) {
    const auto& c = config_;
    const int64_t d = c.d_model, f = c.d_ff;
    DeviceBuffer dout_buf;
    const float* dout = dx;
    if (a.drop_out.active()) {
        dout_buf = workspace_.alloc("d ffn output", rows * d);
        kernels::dropout_copy(a.drop_out, dx, f32(dout_buf), rows * d, 0);
        dout = f32(dout_buf);
    }
    kernels::linear_grad_weight(dout, f32(a.act), block.ff.wo->g(), rows, f, d);
    // The activation buffer now receives its own gradient.
    kernels::linear_grad_input(dout, block.ff.wo->w(), f32(a.act), rows, f, d);
    dout_buf = DeviceBuffer();
    if (a.drop_hidden.active()) kernels::dropout_apply(pool_, a.drop_hidden, f32(a.act), rows * f);
    kernels::ffn_activation_backward(pool_, c.gated, f32(a.h0), c.gated ? f32(a.h1) : nullptr, f32(a.act), rows * f);
    a.act = DeviceBuffer();
    const float* normed = f32(a.norm.normed);
    DeviceBuffer dnormed = workspace_.alloc("d ffn normed", rows * d);
    kernels::linear_grad_weight(f32(a.h0), normed, block.ff.wi0->g(), rows, d, f);
    kernels::linear_grad_input(f32(a.h0), block.ff.wi0->w(), f32(dnormed), rows, d, f);
    if (c.gated) {
        kernels::linear_grad_weight(f32(a.h1), normed, block.ff.wi1->g(), rows, d, f);
        kernels::linear_grad_input(f32(a.h1), block.ff.wi1->w(), f32(dnormed), rows, d, f, 1.0f);
    }
    kernels::rmsnorm_backward(pool_, f32(a.norm.x_in), block.ff_norm->w(), f32(a.norm.inv_rms), f32(dnormed), dx,
                              block.ff_norm->g(), rows, d);
    a = FfnActs();
}

void T5Model::stack_backward(const StackParams& stack, bool decoder, const int32_t* ids, StackActs& acts,
                             float* dout, const float* enc, int64_t src_len, float* denc) {
    const auto& c = config_;
    const int64_t B = acts.batch, T = acts.len, rows = B * T, d = c.d_model;
    if (acts.drop_final.active()) kernels::dropout_apply(pool_, acts.drop_final, dout, rows * d);
    DeviceBuffer dx = workspace_.alloc("d residual", rows * d);
    kernels::rmsnorm_backward(pool_, f32(acts.final_in), stack.final_norm->w(), f32(acts.final_inv_rms), dout,
                              f32(dx), stack.final_norm->g(), rows, d);
    acts.final_in = DeviceBuffer();
    DeviceBuffer dpos = workspace_.alloc("d position bias", c.heads * T * T);
    for (size_t i = stack.blocks.size(); i-- > 0;) {
        const BlockParams& b = stack.blocks[i];
        BlockActs& ba = acts.blocks[i];
        ffn_sublayer_backward(b, ba.ff, rows, f32(dx));
        if (decoder) {
            attention_sublayer_backward(*b.cross_norm, b.cross, ba.cross, B, T, enc, src_len, f32(dx), denc, nullptr);
        }
        attention_sublayer_backward(*b.self_norm, b.self, ba.self, B, T, nullptr, T, f32(dx), nullptr, f32(dpos));
    }
    position_bias_backward(f32(dpos), c.heads, 0, c.heads, T, T, !decoder, decoder, c.buckets, c.max_distance,
                           stack.rel_bias->g());
    if (acts.drop_embed.active()) kernels::dropout_apply(pool_, acts.drop_embed, f32(dx), rows * d);
    float* g = stack.embed->g();
    const float* dxp = f32(dx);
    for (int64_t r = 0; r < rows; ++r) {
        float* gr = g + int64_t(ids[r]) * d;
        const float* src = dxp + r * d;
        for (int64_t j = 0; j < d; ++j) gr[j] += src[j];
    }
}

}  // namespace ft5::model
