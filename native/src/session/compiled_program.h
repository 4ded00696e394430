// One T5Program compiled into an engine for one static shape, with the host buffers its streams read and write.
// On hardware each of these is a graph compilation; the session counts them.
// Under a parallel plan the graph is replicated tp x dp times, replica r on IPUs [r pp, (r + 1) pp), one per
// pipeline stage: every stream entry holds one block per local replica, and the host side here speaks in the local
// replicas' batches and logical tensors (shard_layout.h). A program of m micro-batches reads m entries per stream
// in a run (the scheduled micro-batches program); every other program reads one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <poplar/Device.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>

#include "ipu/device.h"
#include "session/batch_view.h"
#include "t5/shard_layout.h"
#include "t5/t5_program.h"

namespace ft5::session {

// The data-parallel replicas this process runs, [first, first + count) of the plan's dp; count 0: all of them. The
// run's other host instances run the others (the SDK's runtime replicas; collectives between them go over MPI).
struct LocalReplicas {
    std::size_t first = 0;
    std::size_t count = 0;
};

class CompiledProgram {
public:
    // Builds the graph for shape (one data-parallel group's rows; and decode, when enabled), calls before_compile
    // (when given) with the program built, compiles it and loads it onto device (replicas x pp IPUs, which must
    // outlive the program) to run the local replicas. Each run adds the engine's cycle estimate and link traffic to
    // traffic (which must outlive the program).
    CompiledProgram(poplar::Device& device, const t5::T5Config& config, const t5::ParallelPlan& plan, ipu::TrafficCounters& traffic,
                    const t5::BatchShape& shape, const t5::DecodeShape& decode = {}, const LocalReplicas& local = {},
                    const std::function<void(const t5::T5Program&)>& before_compile = {});

    const t5::T5Program& program() const { return *program_; }
    const t5::BatchShape& shape() const { return program_->shape(); }
    const t5::ParallelPlan& plan() const { return plan_; }
    const LocalReplicas& local() const { return local_; }
    poplar::Engine& engine() { return *engine_; }
    // Loads the engine onto the device again (another program's was loaded since): its tensors start undefined, its
    // remote buffers zero.
    void load();
    // The most bytes one IPU's runs hold beyond the variables always live (activations and kernel scratch), as
    // the engine compiled them, for the IPU of each pipeline stage. Every replica holds the same.
    std::size_t activation_bytes(std::size_t stage) const { return activation_bytes_.at(stage); }
    void run(t5::T5Program::Index index);

    // A state tensor (weight, gradient or moment handle of p) in Hugging Face's shape. The gradient read sums the
    // data-parallel groups' parts (each holds its own rows' gradient until an optimizer step sums them).
    std::vector<float> read_logical(const t5::Parameter& p, const std::string& handle, bool sum_data);
    void write_logical(const t5::Parameter& p, const std::string& handle, const std::vector<float>& logical);
    // Tensor-parallel rank `rank`'s shard (every data-parallel group's copy of it on write).
    std::vector<float> read_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank, bool sum_data);
    void write_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank,
                     const std::vector<float>& shard);
    // Every replica's block of a state tensor, in replica order (moving the state between programs); a tensor in
    // streaming memory through its remote buffer.
    std::vector<float> read_replicas(const t5::Parameter& p, const std::string& handle);
    void write_replicas(const std::string& handle, const std::vector<float>& blocks);

    // The batch: data-parallel group g takes rows [g n, (g + 1) n) of it (n = b.batch / dp), padded to the shape.
    void set_batch(const BatchView& b) { set_micro_batch(0, b); }
    // Micro-batch k of a program of shape().micro_batches (its stream entry k).
    void set_micro_batch(std::size_t k, const BatchView& b);
    // The last run's outputs for b's rows: logits [b.batch, b.tgt_len, vocab], encoder output [b.batch, b.src_len,
    // d_model], the mean loss over every counted label of the whole batch.
    void logits_of(const BatchView& b, float* out) const;
    void encoder_output_of(const BatchView& b, float* out) const;
    float loss() const { return loss_.at(0); }
    // Micro-batch k's mean loss (the scheduled micro-batches program).
    float loss_of(std::size_t k) const { return loss_.at(k * host_.replicas()); }
    void set_loss_scale(float scale);
    // The dropout masks' seed of micro-batch k; data-parallel group g draws from seed + g (its tensor-parallel ranks
    // alike).
    void set_dropout_seed(uint64_t seed, std::size_t k = 0);
    void set_optimizer_settings(const std::array<float, t5::AdamWStep::kCount>& values);
    // The gradient norm and whether the step was skipped (the same on every replica).
    std::array<float, 2> optimizer_result() const { return {optimizer_result_.at(0), optimizer_result_.at(1)}; }

    // Cached decoding: every data-parallel group decodes the same rows (decode.batch of them).
    // prompts: [decode.batch, decode.src_len]; tokens and parents: [decode.batch].
    void set_decode_prompts(const std::vector<int>& ids, const std::vector<int>& mask);
    void set_decode_tokens(const std::vector<int>& tokens, const std::vector<int>& parents);
    // The step's logits of the first `rows` rows: [rows, vocab].
    void decode_logits_of(std::size_t rows, float* out) const;

private:
    // The run-wide index of this process's first replica.
    std::size_t first_replica() const { return local_.first * plan_.tp; }
    void zero_streaming_state();
    // The per-replica blocks of one row-major block of rows (every data-parallel group the same).
    template <typename T>
    void replicate(const std::vector<T>& block, std::vector<T>& to) const;
    // The first `rows` rows of data-parallel group g's replica blocks of [block_rows, vocab shard], as [rows, vocab].
    void gather_vocab(const std::vector<float>& blocks, std::size_t group, std::size_t block_rows, std::size_t rows,
                      float* out) const;

    t5::ParallelPlan plan_;   // the graph's, every instance's replicas
    LocalReplicas local_;
    t5::ParallelPlan host_;   // the host buffers' layout: the local replicas (tp x local data-parallel groups)
    std::size_t vocab_, d_model_;
    ipu::TrafficCounters& traffic_;
    poplar::Device& device_;
    std::unique_ptr<poplar::Graph> graph_;
    std::unique_ptr<t5::T5Program> program_;
    std::unique_ptr<poplar::Engine> engine_;
    std::vector<std::size_t> activation_bytes_;  // by stage

    // The stream buffers: one block per replica, in replica order.
    std::vector<int> input_ids_, attention_mask_, decoder_input_ids_, labels_;
    std::vector<float> logits_, encoder_output_, loss_, loss_scale_, training_result_;
    std::vector<unsigned> dropout_seed_;
    std::vector<float> optimizer_settings_, optimizer_result_;
    std::vector<int> decode_input_ids_, decode_attention_mask_, decode_tokens_, decode_parents_;
    std::vector<float> decode_logits_;
};

}  // namespace ft5::session
