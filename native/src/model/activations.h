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
    // tp: the tensor-parallel group size; rank k of a group sits rank_stride IPUs after rank 0 (the pipeline
    // stages of a Poplar replica lie between them).
    Workspace(std::shared_ptr<ipu::Device> device, uint32_t ipu, uint32_t tp, uint32_t rank_stride)
        : device_(std::move(device)), ipu_(ipu), tp_(tp), rank_stride_(rank_stride) {}
    // A tensor every tp rank holds (residual stream, norm outputs, ...): computed once on the current IPU (the
    // stage and replica being executed, tp rank 0), with the same bytes reserved on the other ranks of its group.
    ipu::DeviceBuffer alloc(const char* name, int64_t count) const { return alloc_group(ipu_, name, count); }
    // The same for the tp group whose rank 0 is `ipu` (another stage's IPUs).
    ipu::DeviceBuffer alloc_group(uint32_t ipu, const char* name, int64_t count) const {
        ipu::DeviceBuffer b = alloc_on(ipu, name, count);
        if (tp_ > 1) b.mirror_on(tp_ - 1, rank_stride_);
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
    uint32_t rank_stride_;
};

inline float* f32(ipu::DeviceBuffer& b) noexcept { return b.as<float>().data(); }
inline const float* f32(const ipu::DeviceBuffer& b) noexcept { return b.as<float>().data(); }

// A tensor that travels along the pipeline with a micro-batch, and the stage whose IPUs hold it now.
struct StageBuffer {
    ipu::DeviceBuffer buffer;
    uint32_t stage = 0;
    bool empty() const noexcept { return buffer.bytes() == 0; }
};

// Where one pass draws its dropout masks: consecutive positions of the model's counter-based stream.
struct DropoutStream {
    uint64_t key = 0;       // derived from the model's seed
    uint64_t position = 0;  // elements drawn so far
    float rate = 0.0f;
    kernels::Dropout next(int64_t count) noexcept {
        const kernels::Dropout d{key + position, rate};
        position += uint64_t(count);
        return d;
    }
};

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
    // [H, T, T], causal mask folded in for the decoder: made on the stack's first stage and carried along in the
    // forward pass; made again in the backward pass only when blocks are recomputed.
    StageBuffer pos_bias;
    StageBuffer d_pos_bias;  // its gradient, carried back through the stages in the backward pass
    // What a block's forward pass reads besides its input (kept for recomputation; owned by the pass).
    const float* self_key_mask = nullptr;
    const float* enc_key_mask = nullptr;
    DropoutStream* dropout = nullptr;  // null: no dropout (inference, or rate 0)
    ipu::DeviceBuffer final_in;        // residual stream entering the final norm
    ipu::DeviceBuffer final_inv_rms;
    kernels::Dropout drop_embed;
    kernels::Dropout drop_final;
};

}  // namespace ft5::model
