// One T5Program compiled into an engine for one static shape, with the host buffers its streams read and write.
// On hardware each of these is a graph compilation; the session counts them.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include <poplar/Device.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>

#include "ipu/device.h"
#include "t5/t5_program.h"

namespace ft5::session {

class CompiledProgram {
public:
    // Builds the graph for shape (and decode, when enabled), compiles it and loads it on its own emulated IPU.
    // Each run adds the engine's cycle estimate to traffic (which must outlive the program).
    CompiledProgram(const t5::T5Config& config, ipu::TrafficCounters& traffic, const t5::BatchShape& shape,
                    const t5::DecodeShape& decode = {});

    const t5::T5Program& program() const { return *program_; }
    const t5::BatchShape& shape() const { return program_->shape(); }
    poplar::Engine& engine() { return *engine_; }
    // The most bytes its runs hold beyond the variables always live (activations and kernel scratch), as the
    // engine compiled them.
    std::size_t activation_bytes() const { return activation_bytes_; }
    void run(t5::T5Program::Index index);

    // The stream buffers, sized for the shape (micro_batches blocks for the training step's inputs).
    std::vector<int> input_ids, attention_mask, decoder_input_ids, labels;
    std::vector<float> logits, encoder_output;
    float loss = 0, loss_scale = 1.0f;
    std::array<unsigned, 2> dropout_seed{};
    std::array<float, 2> training_result{};
    std::array<float, t5::AdamWStep::kCount> optimizer_settings{};
    std::array<float, 2> optimizer_result{};
    std::vector<int> decode_input_ids, decode_attention_mask, decode_tokens, decode_parents;
    std::vector<float> decode_logits;

private:
    ipu::TrafficCounters& traffic_;
    poplar::Device device_;
    std::unique_ptr<poplar::Graph> graph_;
    std::unique_ptr<t5::T5Program> program_;
    std::unique_ptr<poplar::Engine> engine_;
    std::size_t activation_bytes_ = 0;
};

}  // namespace ft5::session
