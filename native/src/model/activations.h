// What the forward pass keeps for the backward pass, one record per sub-layer. Every buffer is a
// DeviceBuffer on the session's IPU so activation memory shows in the memory report; a record is released
// as soon as the backward pass has consumed it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ipu/device_buffer.h"
#include "model/kernels.h"

namespace ft5::model {

// Allocates named fp32 activation buffers on one IPU.
class Workspace {
public:
    // tp: the tensor-parallel group size (ranks are consecutive IPUs, rank 0 first).
    Workspace(std::shared_ptr<ipu::Device> device, uint32_t ipu, uint32_t tp)
        : device_(std::move(device)), ipu_(ipu), tp_(tp) {}
    // A tensor every tp rank holds (residual stream, norm outputs, ...): computed once on the current IPU (the
    // stage and replica being executed, tp rank 0), with the same bytes reserved on the other ranks of its group.
    ipu::DeviceBuffer alloc(const char* name, int64_t count) const {
        ipu::DeviceBuffer b = alloc_on(ipu_, name, count);
        if (tp_ > 1) b.mirror_on_next(tp_ - 1);
        return b;
    }
    // One IPU's own tensor (a rank's shard or partial result).
    ipu::DeviceBuffer alloc_on(uint32_t ipu, const char* name, int64_t count) const {
        return ipu::DeviceBuffer(device_, ipu, FT5_MEMORY_ON_CHIP, uint64_t(count) * sizeof(float), name);
    }
    void set_ipu(uint32_t ipu) noexcept { ipu_ = ipu; }
    uint32_t ipu() const noexcept { return ipu_; }

private:
    std::shared_ptr<ipu::Device> device_;
    uint32_t ipu_;
    uint32_t tp_;
};

inline float* f32(ipu::DeviceBuffer& b) noexcept { return b.as<float>().data(); }
inline const float* f32(const ipu::DeviceBuffer& b) noexcept { return b.as<float>().data(); }

struct NormActs {
    ipu::DeviceBuffer x_in;     // residual stream entering the sub-layer
    ipu::DeviceBuffer normed;   // RMSNorm output
    ipu::DeviceBuffer inv_rms;  // per row
};

// One tensor-parallel rank's heads.
struct AttentionShardActs {
    ipu::DeviceBuffer q, k, v;  // [rows, H_rank * d_kv]
    ipu::DeviceBuffer probs;    // [B, H_rank, Tq, Tk], before dropout
    ipu::DeviceBuffer ctx;      // [rows, H_rank * d_kv]
};

struct AttentionActs {
    NormActs norm;
    std::vector<AttentionShardActs> shards;  // one per tp rank
    kernels::Dropout drop_probs;
    kernels::Dropout drop_out;
};

// One tensor-parallel rank's d_ff range.
struct FfnShardActs {
    ipu::DeviceBuffer h0, h1;  // [rows, d_ff_rank] pre-activation (h1 only when gated)
    ipu::DeviceBuffer act;     // [rows, d_ff_rank] activation after dropout = input of wo
};

struct FfnActs {
    NormActs norm;
    std::vector<FfnShardActs> shards;  // one per tp rank
    kernels::Dropout drop_hidden;
    kernels::Dropout drop_out;
};

struct BlockActs {
    AttentionActs self;
    AttentionActs cross;  // decoder only
    FfnActs ff;
    // Recomputation: the forward pass keeps only the block's input and where the dropout stream stood; the
    // backward pass runs the block again from them to refill the records above.
    ipu::DeviceBuffer input;
    uint64_t rng_before = 0;
};

struct StackActs {
    int64_t batch = 0;
    int64_t len = 0;
    std::vector<BlockActs> blocks;  // empty when the pass keeps nothing (inference)
    ipu::DeviceBuffer pos_bias;     // [H, T, T], causal mask folded in for the decoder
    ipu::DeviceBuffer key_mask;     // [B, T] additive, or empty
    // What a block's forward pass reads besides its input (kept for recomputation; owned by the caller).
    const float* self_key_mask = nullptr;
    const float* enc_key_mask = nullptr;
    bool training = false;
    ipu::DeviceBuffer final_in;     // residual stream entering the final norm
    ipu::DeviceBuffer final_inv_rms;
    ipu::DeviceBuffer out;          // final norm output after dropout (decoder: and the tied scale)
    uint32_t stage_copies = 0;    // pipeline-stage crossings of the residual stream (mirrored in backward)
    uint32_t enc_deliveries = 0;  // decoder stages the encoder output was copied to
    kernels::Dropout drop_embed;
    kernels::Dropout drop_final;
};

}  // namespace ft5::model
