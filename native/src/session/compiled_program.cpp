#include "session/compiled_program.h"

#include <cmath>
#include <cstdint>

#include <poplar/IPUModel.hpp>

#include "core/Report.hpp"

namespace ft5::session {

namespace {

poplar::Device attached_device() {
    poplar::IPUModel model;
    poplar::Device d = model.createDevice();
    d.attach();
    return d;
}

template <typename T>
void connect(poplar::Engine& engine, const char* handle, std::vector<T>& buffer) {
    engine.connectStream(handle, buffer.data(), buffer.data() + buffer.size());
}

template <typename T, std::size_t N>
void connect(poplar::Engine& engine, const char* handle, std::array<T, N>& buffer) {
    engine.connectStream(handle, buffer.data(), buffer.data() + N);
}

}  // namespace

CompiledProgram::CompiledProgram(const t5::T5Config& config, ipu::TrafficCounters& traffic,
                                 const t5::BatchShape& shape, const t5::DecodeShape& decode)
    : traffic_(traffic), device_(attached_device()), graph_(std::make_unique<poplar::Graph>(device_.getTarget())),
      program_(std::make_unique<t5::T5Program>(*graph_, config, shape, decode)) {
    engine_ = std::make_unique<poplar::Engine>(*graph_, program_->programs());
    engine_->load(device_);
    const auto& memory = poplar_emulator::memoryReport(*engine_).ipus.at(0);
    activation_bytes_ = memory.peakNotAlwaysLive + memory.peakTemporary;
    const std::size_t src = shape.batch * shape.src_len * shape.micro_batches;
    const std::size_t tgt = shape.batch * shape.tgt_len * shape.micro_batches;
    input_ids.resize(src);
    attention_mask.resize(src);
    decoder_input_ids.resize(tgt);
    labels.resize(tgt);
    logits.resize(shape.batch * shape.tgt_len * config.vocab);
    encoder_output.resize(shape.batch * shape.src_len * config.d_model);
    auto& e = *engine_;
    connect(e, t5::streams::kInputIds, input_ids);
    connect(e, t5::streams::kAttentionMask, attention_mask);
    connect(e, t5::streams::kDecoderInputIds, decoder_input_ids);
    connect(e, t5::streams::kLabels, labels);
    e.connectStream(t5::streams::kLoss, &loss, &loss + 1);
    e.connectStream(t5::streams::kLossScale, &loss_scale, &loss_scale + 1);
    if (program_->dropout()) connect(e, t5::streams::kDropoutSeed, dropout_seed);
    connect(e, t5::streams::kTrainingResult, training_result);
    connect(e, t5::streams::kLogits, logits);
    connect(e, t5::streams::kEncoderOutput, encoder_output);
    connect(e, t5::streams::kOptimizerSettings, optimizer_settings);
    connect(e, t5::streams::kOptimizerResult, optimizer_result);
    if (decode.enabled()) {
        decode_input_ids.resize(decode.batch * decode.src_len);
        decode_attention_mask.resize(decode_input_ids.size());
        decode_tokens.resize(decode.batch);
        decode_parents.resize(decode.batch);
        decode_logits.resize(decode.batch * config.vocab);
        connect(e, t5::streams::kDecodeInputIds, decode_input_ids);
        connect(e, t5::streams::kDecodeAttentionMask, decode_attention_mask);
        connect(e, t5::streams::kDecodeTokens, decode_tokens);
        connect(e, t5::streams::kDecodeParents, decode_parents);
        connect(e, t5::streams::kDecodeLogits, decode_logits);
    }
}

void CompiledProgram::run(t5::T5Program::Index index) {
    engine_->run(index);
    traffic_.estimated_cycles += uint64_t(std::llround(poplar_emulator::lastRunCycles(*engine_).total()));
}

}  // namespace ft5::session
