// The T5 encoder-decoder placed on IPUs: parameters, forward, and the explicit backward of every op.
// Megatron-style tensor parallelism: each tp rank runs a sub-layer on its own heads / d_ff / vocab range
// and the partial outputs are summed by an all-reduce (o, wo, the embedding lookup, the lm_head input
// gradient); the loss is a sharded cross-entropy. Pipeline stages own contiguous layer ranges (the emulator
// executes them in turn and counts the activations crossing stages); replicas split the micro-batch rows
// and all-reduce their gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ipu/device.h"
#include "model/activations.h"
#include "model/collectives.h"
#include "model/model_config.h"
#include "model/parameter_table.h"
#include "model/placement.h"
#include "model/thread_pool.h"

namespace ft5::model {

struct AttentionParams {
    Parameter* q = nullptr;
    Parameter* k = nullptr;
    Parameter* v = nullptr;
    Parameter* o = nullptr;
};

struct FfnParams {
    Parameter* wi0 = nullptr;  // wi_0 (gated) or wi (relu)
    Parameter* wi1 = nullptr;  // wi_1, gated only
    Parameter* wo = nullptr;
};

struct BlockParams {
    Parameter* self_norm = nullptr;
    AttentionParams self;
    Parameter* cross_norm = nullptr;  // decoder only
    AttentionParams cross;
    Parameter* ff_norm = nullptr;
    FfnParams ff;
};

// A block's parameters (null where absent): what one phase of phased execution stages on chip.
std::vector<Parameter*> block_parameters(const BlockParams& b);

struct StackParams {
    Parameter* embed = nullptr;
    Parameter* rel_bias = nullptr;
    std::vector<BlockParams> blocks;
    Parameter* final_norm = nullptr;
};

// A validated micro-batch (shapes checked at the ABI).
struct BatchView {
    int64_t batch = 0;
    int64_t src_len = 0;
    int64_t tgt_len = 0;
    const int32_t* input_ids = nullptr;
    const int32_t* attention_mask = nullptr;  // nullable
    const int32_t* decoder_input_ids = nullptr;
    const int32_t* labels = nullptr;                  // nullable
    const int32_t* decoder_attention_mask = nullptr;  // nullable
    bool training = false;
};

struct ForwardOutputs {
    float* logits = nullptr;          // [B, T, V], nullable
    float* encoder_hidden = nullptr;  // [B, S, d], nullable
};

class T5Model {
public:
    T5Model(const ModelConfig& config, std::shared_ptr<ipu::Device> device, const Placement& placement,
            unsigned threads);

    const ModelConfig& config() const noexcept { return config_; }
    ParameterTable& params() noexcept { return params_; }
    const ParameterTable& params() const noexcept { return params_; }
    ThreadPool& pool() noexcept { return pool_; }
    const Workspace& workspace() const noexcept { return workspace_; }
    const StackParams& encoder() const noexcept { return encoder_; }
    const StackParams& decoder() const noexcept { return decoder_; }
    Parameter* lm_head() const noexcept { return lm_head_; }
    const Placement& placement() const noexcept { return placement_; }
    const Collectives& collectives() const noexcept { return collectives_; }
    // The part of p that tp rank `rank` of the replica being executed holds (its shard, or its copy).
    ParamShard& part(const Parameter& p, uint32_t rank = 0) const {
        return const_cast<Parameter&>(p).at(replica_, p.sharded() ? rank : 0);
    }
    uint32_t rank_ipu(uint32_t stage, uint32_t rank) const noexcept {
        return placement_.ipu(replica_, stage, rank);
    }
    int64_t heads_per_rank() const noexcept { return config_.heads / placement_.tp; }
    int64_t inner_per_rank() const noexcept { return heads_per_rank() * config_.d_kv; }
    // Position bias [H, q_len, k_len] (rank r fills its heads from its shard of the table).
    void position_bias(const StackParams& stack, bool decoder, int64_t q_len, int64_t k_len, int64_t q_offset,
                       float* out) const;
    // Next-token logits of rows decoder outputs y [rows, d] into host memory [rows, vocab] (gathered over ranks).
    void lm_head_logits(const float* y, int64_t rows, float* logits);

    // Forward pass; with backward, adds d(loss * loss_weight)/d(param) to every gradient. Returns the mean
    // loss (0 without labels) and the number of counted labels through out_count.
    double run(const BatchView& batch, const ForwardOutputs& outputs, bool backward, float loss_weight,
               int64_t* out_count);

    // Dropout stream position (advanced by every element a training pass draws).
    uint64_t rng_state() const noexcept { return rng_counter_; }
    void set_rng_state(uint64_t state) noexcept { rng_counter_ = state; }

    // The pieces the incremental decoder reuses.
    ipu::DeviceBuffer key_mask(const int32_t* mask, int64_t batch, int64_t len) const;
    void embed(const Parameter& table, const int32_t* ids, int64_t rows, float* out) const;
    // Encoder forward without keeping activations: [B*S, d] after the final norm.
    ipu::DeviceBuffer encode(const int32_t* ids, const int32_t* mask, int64_t batch, int64_t len);
    // y = rmsnorm(x) into a fresh buffer.
    ipu::DeviceBuffer norm(const Parameter& w, const float* x, int64_t rows);
    // x += wo(act(wi(norm(x)))) for rows without keeping anything (inference).
    void ffn_inference(const BlockParams& block, ipu::DeviceBuffer& x, int64_t rows);

private:
    void build_parameters();
    void build_stack(StackParams& stack, bool decoder);
    double run_replica(const BatchView& batch, const ForwardOutputs& outputs, bool backward, float loss_weight,
                       int64_t* out_count);
    // Sums the gradients of all replicas (they then all hold the sum) and copies replicated tensors'
    // gradients from tp rank 0 to the other ranks' copies.
    void synchronise_gradients();
    double sharded_cross_entropy(std::vector<ipu::DeviceBuffer>& logits, const int32_t* labels, int64_t rows,
                                 bool want_grad, float weight, int64_t* out_count);
    // Counts the residual stream moving from stage `from` to `to` (no-op when equal).
    void stage_copy(uint32_t from, uint32_t to, int64_t n) const;
    kernels::Dropout next_dropout(bool training, int64_t count);

    void attention_sublayer(const Parameter& norm_w, const AttentionParams& p, ipu::DeviceBuffer& x, int64_t batch,
                            int64_t q_len, const float* kv_src, int64_t k_len, const float* pos_bias,
                            const float* key_mask, bool training, AttentionActs* keep);
    void ffn_sublayer(const BlockParams& block, ipu::DeviceBuffer& x, int64_t rows, bool training, FfnActs* keep);
    // One block (self-attention, cross-attention for the decoder, feed-forward) on the residual stream x.
    void block_forward(const BlockParams& b, bool decoder, ipu::DeviceBuffer& x, const StackActs& acts,
                       const float* enc, int64_t src_len, BlockActs* keep);
    ipu::DeviceBuffer stack_forward(const StackParams& stack, bool decoder, const int32_t* ids, int64_t batch,
                                    int64_t len, const float* self_key_mask, const float* enc, int64_t src_len,
                                    const float* enc_key_mask, bool training, StackActs& acts, bool keep);

    void attention_sublayer_backward(const Parameter& norm_w, const AttentionParams& p, AttentionActs& a, int64_t batch,
                                     int64_t q_len, const float* kv_src, int64_t k_len, float* dx, float* dkv_src,
                                     float* dpos_bias);
    void ffn_sublayer_backward(const BlockParams& block, FfnActs& a, int64_t rows, float* dx);
    // From d(stack output): backward through blocks and embedding. For the decoder, denc receives the
    // gradient of the encoder output (accumulated).
    void stack_backward(const StackParams& stack, bool decoder, const int32_t* ids, StackActs& acts, float* dout,
                        const float* enc, int64_t src_len, float* denc);

    ModelConfig config_;
    std::shared_ptr<ipu::Device> device_;
    Placement placement_;
    Collectives collectives_;
    ParameterTable params_;
    Workspace workspace_;
    ThreadPool pool_;
    StackParams encoder_;
    StackParams decoder_;
    Parameter* lm_head_ = nullptr;  // = the shared embedding when tied
    uint64_t rng_counter_ = 0;
    uint64_t rng_key_ = 0;  // derived from the seed
    uint32_t replica_ = 0;  // the replica being executed
};

}  // namespace ft5::model
