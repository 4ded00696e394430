#include "model/incremental_decoder.h"

#include <cmath>
#include <cstring>

#include "abi/error.h"
#include "model/attention.h"
#include "model/position_bias.h"

namespace ft5::model {

using ipu::DeviceBuffer;

IncrementalDecoder::IncrementalDecoder(T5Model& model, const int32_t* input_ids, const int32_t* attention_mask,
                                       int64_t batch, int64_t src_len, int64_t max_steps)
    : model_(model), batch_(batch), src_len_(src_len), max_steps_(max_steps) {
    const auto& c = model.config();
    const auto& ws = model.workspace();
    const int64_t inner = c.inner(), kv_rows = batch * src_len;
    enc_mask_ = model.key_mask(attention_mask, batch, src_len);
    DeviceBuffer enc = model.encode(input_ids, attention_mask, batch, src_len);
    for (const BlockParams& b : model.decoder().blocks) {
        BlockCache cache;
        cache.self_k = ws.alloc("decode cache k", batch * max_steps * inner);
        cache.self_v = ws.alloc("decode cache v", batch * max_steps * inner);
        cache.cross_k = ws.alloc("decode cross k", kv_rows * inner);
        cache.cross_v = ws.alloc("decode cross v", kv_rows * inner);
        kernels::linear(f32(enc), b.cross.k->w(), f32(cache.cross_k), kv_rows, c.d_model, inner);
        kernels::linear(f32(enc), b.cross.v->w(), f32(cache.cross_v), kv_rows, c.d_model, inner);
        blocks_.push_back(std::move(cache));
    }
}

void IncrementalDecoder::step(const int32_t* tokens, float* logits) {
    if (step_ >= max_steps_) {
        invalid_argument("decode_step: the cache holds max_steps = " + std::to_string(max_steps_) +
                         " tokens and all are used; begin the decode with a larger max_steps");
    }
    auto& m = model_;
    const auto& c = m.config();
    const auto& ws = m.workspace();
    const int64_t B = batch_, d = c.d_model, inner = c.inner(), t = step_, k_len = t + 1;
    DeviceBuffer x = ws.alloc("decode embedding", B * d);
    m.embed(*m.decoder().embed, tokens, B, f32(x));
    DeviceBuffer pos = ws.alloc("decode position bias", c.heads * k_len);
    position_bias_forward(m.decoder().rel_bias->w(), c.heads, 0, c.heads, 1, k_len, t, false, true, c.buckets,
                          c.max_distance, f32(pos));
    DeviceBuffer q = ws.alloc("decode q", B * inner);
    DeviceBuffer kv = ws.alloc("decode kv", B * inner);
    DeviceBuffer ctx = ws.alloc("decode context", B * inner);
    DeviceBuffer probs = ws.alloc("decode probabilities", B * c.heads * std::max(k_len, src_len_));
    DeviceBuffer out = ws.alloc("decode sublayer output", B * d);
    auto residual_add = [&](const float* src) {
        float* xp = f32(x);
        for (int64_t i = 0; i < B * d; ++i) xp[i] += src[i];
    };
    for (size_t i = 0; i < m.decoder().blocks.size(); ++i) {
        const BlockParams& b = m.decoder().blocks[i];
        BlockCache& cache = blocks_[i];
        // self-attention over the cache plus this token
        DeviceBuffer normed = m.norm(*b.self_norm, f32(x), B);
        kernels::linear(f32(normed), b.self.q->w(), f32(q), B, d, inner);
        const int64_t row_stride = max_steps_ * inner;
        kernels::linear(f32(normed), b.self.k->w(), f32(kv), B, d, inner);
        for (int64_t r = 0; r < B; ++r)
            std::memcpy(f32(cache.self_k) + r * row_stride + t * inner, f32(kv) + r * inner, size_t(inner) * 4);
        kernels::linear(f32(normed), b.self.v->w(), f32(kv), B, d, inner);
        for (int64_t r = 0; r < B; ++r)
            std::memcpy(f32(cache.self_v) + r * row_stride + t * inner, f32(kv) + r * inner, size_t(inner) * 4);
        AttentionShape s{B, 1, k_len, c.heads, c.d_kv, inner, inner, row_stride};
        attention_forward(m.pool(), s, f32(q), f32(cache.self_k), f32(cache.self_v), f32(pos), nullptr, {},
                          f32(probs), f32(ctx));
        kernels::linear(f32(ctx), b.self.o->w(), f32(out), B, inner, d);
        residual_add(f32(out));
        // cross-attention over the encoder output
        normed = m.norm(*b.cross_norm, f32(x), B);
        kernels::linear(f32(normed), b.cross.q->w(), f32(q), B, d, inner);
        AttentionShape cs{B, 1, src_len_, c.heads, c.d_kv, inner, inner, src_len_ * inner};
        attention_forward(m.pool(), cs, f32(q), f32(cache.cross_k), f32(cache.cross_v), nullptr, f32(enc_mask_), {},
                          f32(probs), f32(ctx));
        kernels::linear(f32(ctx), b.cross.o->w(), f32(out), B, inner, d);
        residual_add(f32(out));
        m.ffn_inference(b, x, B);
    }
    DeviceBuffer y = m.norm(*m.decoder().final_norm, f32(x), B);
    if (c.tied) {
        const float scale = float(1.0 / std::sqrt(double(d)));
        float* yp = f32(y);
        for (int64_t i = 0; i < B * d; ++i) yp[i] *= scale;
    }
    kernels::linear(f32(y), m.lm_head()->w(), logits, B, d, c.vocab);
    ++step_;
}

void IncrementalDecoder::reorder(const int32_t* rows, int64_t count) {
    const auto& c = model_.config();
    const auto& ws = model_.workspace();
    const int64_t inner = c.inner();
    auto gather = [&](const DeviceBuffer& src, int64_t row_elems, const char* name) {
        DeviceBuffer dst = ws.alloc(name, count * row_elems);
        for (int64_t i = 0; i < count; ++i)
            std::memcpy(f32(dst) + i * row_elems, f32(src) + int64_t(rows[i]) * row_elems, size_t(row_elems) * 4);
        return dst;
    };
    // Build everything first so that a failure (out of memory) leaves the decode as it was.
    DeviceBuffer mask = gather(enc_mask_, src_len_, "attention mask");
    std::vector<BlockCache> blocks;
    for (const BlockCache& b : blocks_) {
        BlockCache n;
        n.self_k = gather(b.self_k, max_steps_ * inner, "decode cache k");
        n.self_v = gather(b.self_v, max_steps_ * inner, "decode cache v");
        n.cross_k = gather(b.cross_k, src_len_ * inner, "decode cross k");
        n.cross_v = gather(b.cross_v, src_len_ * inner, "decode cross v");
        blocks.push_back(std::move(n));
    }
    enc_mask_ = std::move(mask);
    blocks_ = std::move(blocks);
    batch_ = count;
}

}  // namespace ft5::model
