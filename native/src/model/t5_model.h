// The T5 encoder-decoder placed on IPUs: parameters, forward, and the explicit backward of every op.
// Megatron-style tensor parallelism: each tp rank runs a sub-layer on its own heads / d_ff / vocab range
// and the partial outputs are summed by an all-reduce (o, wo, the embedding lookup, the lm_head input
// gradient); the loss is a sharded cross-entropy. Pipeline stages own contiguous layer ranges: a micro-batch's
// pass is cut into per-stage segments that the plan's schedule (GPipe or 1F1B) interleaves over a step's
// micro-batches, and the activations crossing stages are copied and counted. Replicas split the micro-batch
// rows and all-reduce their gradients once per step.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ipu/device.h"
#include "model/activations.h"
#include "model/collectives.h"
#include "model/micro_batch_pass.h"
#include "model/model_config.h"
#include "model/parameter_table.h"
#include "t5/pipeline_schedule.h"
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
    // Forward and backward of a step's micro-batches in the order of the plan's pipeline schedule; losses[m] is
    // micro-batch m's mean loss. Each micro-batch draws dropout from its own part of the stream.
    void run_micro_batches(const std::vector<BatchView>& batches, float loss_weight, std::vector<double>& losses);
    const std::vector<PassSegment>& forward_segments() const noexcept { return forward_segments_; }
    const std::vector<PassSegment>& backward_segments() const noexcept { return backward_segments_; }

    // Dropout stream position: every training pass with dropout moves it on by kPassStride.
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
    // The stream positions a pass may draw (far more than any pass draws), so passes never share masks.
    static constexpr uint64_t kPassStride = uint64_t(1) << 36;

    void build_parameters();
    void build_stack(StackParams& stack, bool decoder);
    void build_segments();
    // Runs micro-batches on every replica; with backward, through the pipeline schedule.
    void run_passes(const std::vector<BatchView>& batches, const ForwardOutputs& outputs, bool backward,
                    float loss_weight, std::vector<double>& losses, std::vector<int64_t>& counts);
    void run_segment(MicroBatchPass& pass, const PassSegment& segment, bool backward);
    // Sums the gradients of all replicas (they then all hold the sum) and copies replicated tensors'
    // gradients from tp rank 0 to the other ranks' copies.
    void synchronise_gradients();
    double sharded_cross_entropy(std::vector<ipu::DeviceBuffer>& logits, const int32_t* labels, int64_t rows,
                                 bool want_grad, float weight, int64_t* out_count);
    // Moves a travelling tensor onto the IPUs of `stage` (a copy between IPUs, counted); no-op when it is there.
    void move_to_stage(StageBuffer& t, uint32_t stage, const char* name) const;
    // A copy of `source` on the IPUs of `stage` (an inter-IPU copy, counted).
    ipu::DeviceBuffer copy_to_stage(const ipu::DeviceBuffer& source, uint32_t stage, const char* name) const;
    // The decoder output times d_model^-0.5 (tied embeddings), in place; the same for its gradient.
    void scale_tied_output(float* y, int64_t n) const;
    // The gradient a sub-layer's output dropout passes back: dx itself without dropout, else dropout(dx) in scratch.
    const float* dropped_gradient(const kernels::Dropout& drop, const float* dx, int64_t n, ipu::DeviceBuffer& scratch,
                                  const char* name) const;
    // The encoder output as the IPUs of `stage` hold it (copied there on first use).
    const float* encoder_output_on(MicroBatchPass& pass, uint32_t stage) const;
    void set_stage(uint32_t stage) { workspace_.set_ipu(rank_ipu(stage, 0)); }

    // Forward steps.
    void forward_inputs(MicroBatchPass& pass);
    void forward_block(MicroBatchPass& pass, bool decoder, uint32_t index);
    void forward_final(MicroBatchPass& pass, bool decoder);
    void forward_head(MicroBatchPass& pass);
    // Backward steps.
    void backward_head(MicroBatchPass& pass);
    void backward_final(MicroBatchPass& pass, bool decoder);
    void backward_block(MicroBatchPass& pass, bool decoder, uint32_t index);
    void backward_inputs(MicroBatchPass& pass);
    void embedding_backward(const StackParams& stack, const int32_t* ids, const StackActs& acts, float* dx);

    void attention_sublayer(const Parameter& norm_w, const AttentionParams& p, ipu::DeviceBuffer& x, int64_t batch,
                            int64_t q_len, const float* kv_src, int64_t k_len, const float* pos_bias,
                            const float* key_mask, DropoutStream* dropout, AttentionActs* keep);
    void ffn_sublayer(const BlockParams& block, ipu::DeviceBuffer& x, int64_t rows, DropoutStream* dropout,
                      FfnActs* keep);
    // One block (self-attention, cross-attention for the decoder, feed-forward) on the residual stream x.
    void block_forward(const BlockParams& b, bool decoder, ipu::DeviceBuffer& x, const StackActs& acts,
                       const float* enc, int64_t src_len, BlockActs* keep);

    void attention_sublayer_backward(const Parameter& norm_w, const AttentionParams& p, AttentionActs& a, int64_t batch,
                                     int64_t q_len, const float* kv_src, int64_t k_len, float* dx, float* dkv_src,
                                     float* dpos_bias);
    void ffn_sublayer_backward(const BlockParams& block, FfnActs& a, int64_t rows, float* dx);

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
    std::vector<PassSegment> forward_segments_;
    std::vector<PassSegment> backward_segments_;
    uint64_t rng_counter_ = 0;
    uint64_t rng_key_ = 0;  // derived from the seed
    uint32_t replica_ = 0;  // the replica being executed
};

}  // namespace ft5::model
