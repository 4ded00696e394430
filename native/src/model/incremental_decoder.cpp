#include "model/incremental_decoder.h"

#include <cmath>
#include <cstring>

#include "abi/error.h"
#include "model/attention.h"
#include "model/position_bias.h"
#include "model/weight_phase.h"

namespace ft5::model {

using ipu::DeviceBuffer;

IncrementalDecoder::IncrementalDecoder(T5Model& model, const int32_t* input_ids, const int32_t* attention_mask,
                                       int64_t batch, int64_t src_len, int64_t max_steps)
    : model_(model), batch_(batch), src_len_(src_len), max_steps_(max_steps) {
    const auto& c = model.config();
    const auto& ws = model.workspace();
    const auto& pl = model.placement();
    const int64_t inner = model.inner_per_rank(), kv_rows = batch * src_len;
    enc_mask_ = model.key_mask(attention_mask, batch, src_len);
    DeviceBuffer enc = model.encode(input_ids, attention_mask, batch, src_len);
    for (const BlockParams& b : model.decoder().blocks) {
        // Phased execution: the block's weights on chip while its cross keys and values are computed.
        const WeightPhase phase(model.params().device(), 0, WeightPhase::Mode::kForward, block_parameters(b));
        BlockCache cache(pl.tp);
        for (uint32_t r = 0; r < pl.tp; ++r) {
            const uint32_t ipu = model.rank_ipu(b.self.q->stage, r);
            RankCache& rc = cache[r];
            rc.self_k = ws.alloc_on(ipu, "decode cache k", batch * max_steps * inner);
            rc.self_v = ws.alloc_on(ipu, "decode cache v", batch * max_steps * inner);
            rc.cross_k = ws.alloc_on(ipu, "decode cross k", kv_rows * inner);
            rc.cross_v = ws.alloc_on(ipu, "decode cross v", kv_rows * inner);
            kernels::linear(f32(enc), model.part(*b.cross.k, r).w(), f32(rc.cross_k), kv_rows, c.d_model, inner);
            kernels::linear(f32(enc), model.part(*b.cross.v, r).w(), f32(rc.cross_v), kv_rows, c.d_model, inner);
        }
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
    const uint32_t tp = m.placement().tp;
    const int64_t B = batch_, d = c.d_model, inner = m.inner_per_rank(), hr = m.heads_per_rank(), t = step_,
                  k_len = t + 1;
    // Phased execution: the parameters outside the blocks on chip for the step, each block's during the block.
    const WeightPhase outer(m.params().device(), 0, WeightPhase::Mode::kForward,
                            {m.decoder().embed, m.decoder().rel_bias, m.decoder().final_norm, m.lm_head()});
    DeviceBuffer x = ws.alloc("decode embedding", B * d);
    m.embed(*m.decoder().embed, tokens, B, f32(x));
    DeviceBuffer pos = ws.alloc("decode position bias", c.heads * k_len);
    m.position_bias(m.decoder(), true, 1, k_len, t, f32(pos));
    DeviceBuffer q = ws.alloc("decode q", B * inner);
    DeviceBuffer kv = ws.alloc("decode kv", B * inner);
    DeviceBuffer ctx = ws.alloc("decode context", B * inner);
    DeviceBuffer probs = ws.alloc("decode probabilities", B * hr * std::max(k_len, src_len_));
    DeviceBuffer out = ws.alloc("decode sublayer output", B * d);
    auto residual_add = [&](const float* src) {
        float* xp = f32(x);
        for (int64_t i = 0; i < B * d; ++i) xp[i] += src[i];
    };
    // o(ctx) of every rank, summed (the all-reduce), into out.
    auto project = [&](const Parameter& o, uint32_t r) {
        kernels::linear(f32(ctx), m.part(o, r).w(), f32(out), B, inner, d, r == 0 ? 0.0f : 1.0f);
    };
    const int64_t row_stride = max_steps_ * inner;
    for (size_t i = 0; i < m.decoder().blocks.size(); ++i) {
        const BlockParams& b = m.decoder().blocks[i];
        BlockCache& cache = blocks_[i];
        const WeightPhase phase(m.params().device(), 0, WeightPhase::Mode::kForward, block_parameters(b));
        // self-attention over the cache plus this token
        DeviceBuffer normed = m.norm(*b.self_norm, f32(x), B);
        for (uint32_t r = 0; r < tp; ++r) {
            RankCache& rc = cache[r];
            kernels::linear(f32(normed), m.part(*b.self.q, r).w(), f32(q), B, d, inner);
            kernels::linear(f32(normed), m.part(*b.self.k, r).w(), f32(kv), B, d, inner);
            for (int64_t row = 0; row < B; ++row)
                std::memcpy(f32(rc.self_k) + row * row_stride + t * inner, f32(kv) + row * inner, size_t(inner) * 4);
            kernels::linear(f32(normed), m.part(*b.self.v, r).w(), f32(kv), B, d, inner);
            for (int64_t row = 0; row < B; ++row)
                std::memcpy(f32(rc.self_v) + row * row_stride + t * inner, f32(kv) + row * inner, size_t(inner) * 4);
            AttentionShape s{B, 1, k_len, hr, c.d_kv, inner, inner, row_stride};
            attention_forward(m.pool(), s, f32(q), f32(rc.self_k), f32(rc.self_v), f32(pos) + int64_t(r) * hr * k_len,
                              nullptr, {}, f32(probs), f32(ctx));
            project(*b.self.o, r);
        }
        m.collectives().count_all_reduce(tp, B * d);
        residual_add(f32(out));
        // cross-attention over the encoder output
        normed = m.norm(*b.cross_norm, f32(x), B);
        for (uint32_t r = 0; r < tp; ++r) {
            RankCache& rc = cache[r];
            kernels::linear(f32(normed), m.part(*b.cross.q, r).w(), f32(q), B, d, inner);
            AttentionShape cs{B, 1, src_len_, hr, c.d_kv, inner, inner, src_len_ * inner};
            attention_forward(m.pool(), cs, f32(q), f32(rc.cross_k), f32(rc.cross_v), nullptr, f32(enc_mask_), {},
                              f32(probs), f32(ctx));
            project(*b.cross.o, r);
        }
        m.collectives().count_all_reduce(tp, B * d);
        residual_add(f32(out));
        m.ffn_inference(b, x, B);
    }
    DeviceBuffer y = m.norm(*m.decoder().final_norm, f32(x), B);
    if (c.tied) {
        const float scale = float(1.0 / std::sqrt(double(d)));
        float* yp = f32(y);
        for (int64_t i = 0; i < B * d; ++i) yp[i] *= scale;
    }
    m.lm_head_logits(f32(y), B, logits);
    ++step_;
}

void IncrementalDecoder::reorder(const int32_t* rows, int64_t count) {
    const auto& ws = model_.workspace();
    const int64_t inner = model_.inner_per_rank();
    auto gather = [&](const DeviceBuffer& src, int64_t row_elems, const char* name) {
        DeviceBuffer dst = ws.alloc_on(src.ipu(), name, count * row_elems);
        for (int64_t i = 0; i < count; ++i)
            std::memcpy(f32(dst) + i * row_elems, f32(src) + int64_t(rows[i]) * row_elems, size_t(row_elems) * 4);
        return dst;
    };
    // Build everything first so that a failure (out of memory) leaves the decode as it was.
    DeviceBuffer mask = gather(enc_mask_, src_len_, "attention mask");
    std::vector<BlockCache> blocks;
    for (const BlockCache& b : blocks_) {
        BlockCache n(b.size());
        for (size_t r = 0; r < b.size(); ++r) {
            n[r].self_k = gather(b[r].self_k, max_steps_ * inner, "decode cache k");
            n[r].self_v = gather(b[r].self_v, max_steps_ * inner, "decode cache v");
            n[r].cross_k = gather(b[r].cross_k, src_len_ * inner, "decode cross k");
            n[r].cross_v = gather(b[r].cross_v, src_len_ * inner, "decode cross v");
        }
        blocks.push_back(std::move(n));
    }
    enc_mask_ = std::move(mask);
    blocks_ = std::move(blocks);
    batch_ = count;
}

}  // namespace ft5::model
