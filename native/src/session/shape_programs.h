// One program set of the session's engine (session_engine.h): the host buffers its streams read and write, and
// its programs. Every stream entry holds one block per local replica, and the host side here speaks in the local
// replicas' batches. A program of m micro-batches reads m entries per stream in a run (the scheduled micro-batches
// program); every other program reads one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <poplar/Engine.hpp>

#include "session/batch_view.h"
#include "t5/t5_program.h"

namespace ft5::session {

class SessionEngine;

class ShapePrograms {
public:
    // Connects program set `set`'s streams of engine to buffers of its shape.
    ShapePrograms(SessionEngine& engine, std::size_t set);

    const t5::BatchShape& shape() const { return shape_; }
    // Its cached decoding programs' shape (not enabled() when it has none).
    const t5::DecodeShape& decode_shape() const { return decode_; }
    // Whether its training passes drop (they then read a seed per micro-batch).
    bool dropout() const { return dropout_; }
    void run(t5::T5Program::Index index);

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
    float loss_of(std::size_t k) const { return loss_.at(k * replicas_); }
    void set_loss_scale(float scale);
    // The dropout masks' seed of micro-batch k; data-parallel group g draws from seed + g (its tensor-parallel ranks
    // alike).
    void set_dropout_seed(uint64_t seed, std::size_t k = 0);

    // The last forward run's largest |activation| of each of the program's activation sites (T5Program::
    // activationSites), the maximum over the local replicas; empty when the plan records none.
    std::vector<float> activation_ranges() const;

    // Cached decoding: every data-parallel group decodes the same rows (decode.batch of them).
    // prompts: [decode.batch, decode.src_len]; tokens and parents: [decode.batch].
    void set_decode_prompts(const std::vector<int>& ids, const std::vector<int>& mask);
    void set_decode_tokens(const std::vector<int>& tokens, const std::vector<int>& parents);
    // The step's logits of the first `rows` rows: [rows, vocab].
    void decode_logits_of(std::size_t rows, float* out) const;

private:
    // The per-replica blocks of one row-major block of rows (every data-parallel group the same).
    template <typename T>
    void replicate(const std::vector<T>& block, std::vector<T>& to) const;
    // The first `rows` rows of data-parallel group g's replica blocks of [block_rows, vocab shard], as [rows, vocab].
    void gather_vocab(const std::vector<float>& blocks, std::size_t group, std::size_t block_rows, std::size_t rows,
                      float* out) const;

    SessionEngine& engine_;
    std::size_t set_;
    t5::BatchShape shape_;
    t5::DecodeShape decode_;
    bool dropout_;
    std::size_t replicas_;  // local replicas

    // The stream buffers: one block per replica, in replica order.
    std::vector<int> input_ids_, attention_mask_, decoder_input_ids_, labels_;
    std::vector<float> logits_, encoder_output_, loss_, loss_scale_, training_result_;
    std::vector<unsigned> dropout_seed_;
    std::vector<float> activation_ranges_;  // sites x replicas
    std::vector<int> decode_input_ids_, decode_attention_mask_, decode_tokens_, decode_parents_;
    std::vector<float> decode_logits_;
};

}  // namespace ft5::session
