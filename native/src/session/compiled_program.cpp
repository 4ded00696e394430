#include "session/compiled_program.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include <poplar/OptionFlags.hpp>
#include <poplar/exceptions.hpp>

#include "abi/error.h"
#include "session/sdk_measures.h"
#include "session/shape_bucket.h"

namespace ft5::session {

namespace {

template <typename T>
void connect(poplar::Engine& engine, const char* handle, std::vector<T>& buffer) {
    engine.connectStream(handle, buffer.data(), buffer.data() + buffer.size());
}

}  // namespace

CompiledProgram::CompiledProgram(poplar::Device& device, const t5::T5Config& config, const t5::ParallelPlan& plan,
                                 ipu::TrafficCounters& traffic, const t5::BatchShape& shape,
                                 const t5::DecodeShape& decode, const LocalReplicas& local,
                                 const std::function<void(const t5::T5Program&)>& before_compile)
    : plan_(plan), local_(local.count == 0 ? LocalReplicas{0, plan.dp} : local), host_{plan.tp, local_.count},
      vocab_(config.vocab), d_model_(config.d_model), traffic_(traffic),
      device_(device),
      graph_(std::make_unique<poplar::Graph>(device_.getTarget(),
                                             poplar::replication_factor(unsigned(plan.replicas())))),
      program_(std::make_unique<t5::T5Program>(*graph_, config, shape, decode, plan)) {
    if (before_compile) before_compile(*program_);
    // The SDK's runtime replicas: this process runs its own, the run's other instances the rest.
    poplar::OptionFlags options;
    if (local_.count != plan.dp) {
        options.set("target.firstRuntimeReplica", std::to_string(local_.first * plan.tp));
        options.set("target.numberRuntimeReplica", std::to_string(local_.count * plan.tp));
    }
    try {
        engine_ = std::make_unique<poplar::Engine>(*graph_, program_->programs(), options);
    } catch (const poplar::graph_memory_allocation_error& e) {
        // The state fitted (BuilderSession checks it first); the compiled activations and scratch did not.
        fail(FT5_ERR_OUT_OF_MEMORY,
             "the program for batch " + std::to_string(shape.batch) + " x source " + std::to_string(shape.src_len) +
                 " x target " + std::to_string(shape.tgt_len) + " tokens does not fit on chip: " + e.what() +
                 ". Use smaller micro-batches or length buckets, recomputation, or more IPUs (tensor_parallel, "
                 "pipeline_stages)");
    }
    load();
    activation_bytes_ = compiled_activation_bytes(*engine_, plan.pp);
    const std::size_t r = host_.replicas(), m = shape.micro_batches;
    const std::size_t shard = plan.paddedVocab(config.vocab) / plan.tp;
    const std::size_t src = shape.batch * shape.src_len * shape.micro_batches;
    const std::size_t tgt = shape.batch * shape.tgt_len * shape.micro_batches;
    input_ids_.resize(r * src);
    attention_mask_.resize(r * src);
    decoder_input_ids_.resize(r * tgt);
    labels_.resize(r * tgt);
    logits_.resize(r * shape.batch * shape.tgt_len * shard);
    encoder_output_.resize(r * shape.batch * shape.src_len * config.d_model);
    loss_.resize(r * m);
    loss_scale_.assign(r * m, 1.0f);
    training_result_.resize(2 * r);
    dropout_seed_.resize(2 * r * m);
    optimizer_settings_.resize(r * t5::AdamWStep::kCount);
    optimizer_result_.resize(2 * r);
    auto& e = *engine_;
    connect(e, t5::streams::kInputIds, input_ids_);
    connect(e, t5::streams::kAttentionMask, attention_mask_);
    connect(e, t5::streams::kDecoderInputIds, decoder_input_ids_);
    connect(e, t5::streams::kLabels, labels_);
    connect(e, t5::streams::kLoss, loss_);
    connect(e, t5::streams::kLossScale, loss_scale_);
    if (program_->dropout()) connect(e, t5::streams::kDropoutSeed, dropout_seed_);
    connect(e, t5::streams::kTrainingResult, training_result_);
    connect(e, t5::streams::kLogits, logits_);
    connect(e, t5::streams::kEncoderOutput, encoder_output_);
    connect(e, t5::streams::kOptimizerSettings, optimizer_settings_);
    connect(e, t5::streams::kOptimizerResult, optimizer_result_);
    if (decode.enabled()) {
        decode_input_ids_.resize(r * decode.batch * decode.src_len);
        decode_attention_mask_.resize(decode_input_ids_.size());
        decode_tokens_.resize(r * decode.batch);
        decode_parents_.resize(r * decode.batch);
        decode_logits_.resize(r * decode.batch * shard);
        connect(e, t5::streams::kDecodeInputIds, decode_input_ids_);
        connect(e, t5::streams::kDecodeAttentionMask, decode_attention_mask_);
        connect(e, t5::streams::kDecodeTokens, decode_tokens_);
        connect(e, t5::streams::kDecodeParents, decode_parents_);
        connect(e, t5::streams::kDecodeLogits, decode_logits_);
    }
}

void CompiledProgram::run(t5::T5Program::Index index) {
    engine_->run(index);
    const RunCost run = last_run_cost(*engine_);
    traffic_.estimated_cycles += uint64_t(std::llround(run.cycles));
    traffic_.inter_ipu_bytes += uint64_t(std::llround(run.ipu_link_bytes * double(host_.replicas())));
    traffic_.collectives += run.link_steps;
    traffic_.streaming_bytes += uint64_t(std::llround(run.remote_bytes * double(host_.replicas())));
}

std::vector<float> CompiledProgram::read_replicas(const t5::Parameter& p, const std::string& handle) {
    const std::size_t n = t5::shardElements(p);
    std::vector<float> blocks(host_.replicas() * n);
    if (!program_->inStreamingMemory(handle)) {
        engine_->readTensor(handle, blocks.data(), blocks.data() + blocks.size());
        return blocks;
    }
    for (std::size_t i = 0; i < host_.replicas(); ++i)
        engine_->copyFromRemoteBuffer(handle, blocks.data() + i * n, 0, unsigned(first_replica() + i));
    return blocks;
}

void CompiledProgram::write_replicas(const std::string& handle, const std::vector<float>& blocks) {
    if (!program_->inStreamingMemory(handle)) {
        engine_->writeTensor(handle, blocks.data(), blocks.data() + blocks.size());
        return;
    }
    const std::size_t n = blocks.size() / host_.replicas();
    for (std::size_t i = 0; i < host_.replicas(); ++i)
        // the SDK's signature takes void*, and only reads it
        engine_->copyToRemoteBuffer(const_cast<float*>(blocks.data() + i * n), handle, 0, unsigned(first_replica() + i));
}

void CompiledProgram::load() {
    engine_->load(device_);
    zero_streaming_state();  // remote buffers start undefined on an IPU: zero moments and gradients, as on chip
}

void CompiledProgram::zero_streaming_state() {
    for (const t5::Parameter& p : program_->parameters().all()) {
        const std::vector<float> zeros(host_.replicas() * t5::shardElements(p), 0.0f);
        for (const std::string& handle : {t5::Parameters::weightHandle(p.name), t5::Parameters::gradientHandle(p.name),
                                          t5::AdamW::firstMomentHandle(p.name), t5::AdamW::secondMomentHandle(p.name)})
            if (program_->inStreamingMemory(handle)) write_replicas(handle, zeros);
    }
}

std::vector<float> CompiledProgram::read_logical(const t5::Parameter& p, const std::string& handle, bool sum_data) {
    if (host_.replicas() == 1) return read_replicas(p, handle);
    return t5::logicalTensor(p, host_, read_replicas(p, handle), sum_data);
}

void CompiledProgram::write_logical(const t5::Parameter& p, const std::string& handle,
                                    const std::vector<float>& logical) {
    write_replicas(handle, host_.replicas() == 1 ? logical : t5::replicaBuffer(p, host_, logical));
}

std::vector<float> CompiledProgram::read_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank,
                                               bool sum_data) {
    const std::size_t n = t5::shardElements(p);
    const std::vector<float> blocks = read_replicas(p, handle);
    std::vector<float> shard(n, 0.0f);
    for (std::size_t g = 0; g < (sum_data ? host_.dp : 1); ++g) {
        const float* block = blocks.data() + host_.replica(g, rank) * n;
        for (std::size_t i = 0; i < n; ++i) shard[i] += block[i];
    }
    return shard;
}

void CompiledProgram::write_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank,
                                  const std::vector<float>& shard) {
    const std::size_t n = t5::shardElements(p);
    std::vector<float> blocks = read_replicas(p, handle);
    // A parameter every rank holds whole has one shard: all its blocks take it.
    for (std::size_t r = 0; r < host_.replicas(); ++r)
        if (!p.split() || host_.tpRank(r) == rank) std::copy(shard.begin(), shard.end(), blocks.begin() + r * n);
    write_replicas(handle, blocks);
}

template <typename T>
void CompiledProgram::replicate(const std::vector<T>& block, std::vector<T>& to) const {
    for (std::size_t r = 0; r < host_.replicas(); ++r)
        std::copy(block.begin(), block.end(), to.begin() + std::ptrdiff_t(r * block.size()));
}

void CompiledProgram::set_micro_batch(std::size_t entry, const BatchView& b) {
    const t5::BatchShape& s = shape();
    const std::size_t src = s.batch * s.src_len, tgt = s.batch * s.tgt_len;
    const std::size_t first_src = entry * host_.replicas() * src, first_tgt = entry * host_.replicas() * tgt;
    const int64_t rows = b.batch / int64_t(host_.dp);
    std::vector<int> ids(src), mask(src), decoder_ids(tgt), labels(tgt);
    for (std::size_t g = 0; g < host_.dp; ++g) {
        BatchView part = b;
        part.batch = rows;
        const int64_t first = int64_t(g) * rows;
        part.input_ids += first * b.src_len;
        if (part.attention_mask) part.attention_mask += first * b.src_len;
        part.decoder_input_ids += first * b.tgt_len;
        if (part.labels) part.labels += first * b.tgt_len;
        pad_into(part, s, ids, mask, decoder_ids, labels);
        for (std::size_t k = 0; k < host_.tp; ++k) {
            const std::size_t r = host_.replica(g, k);
            const auto at_src = std::ptrdiff_t(first_src + r * src), at_tgt = std::ptrdiff_t(first_tgt + r * tgt);
            std::copy(ids.begin(), ids.end(), input_ids_.begin() + at_src);
            std::copy(mask.begin(), mask.end(), attention_mask_.begin() + at_src);
            std::copy(decoder_ids.begin(), decoder_ids.end(), decoder_input_ids_.begin() + at_tgt);
            std::copy(labels.begin(), labels.end(), labels_.begin() + at_tgt);
        }
    }
}

void CompiledProgram::gather_vocab(const std::vector<float>& blocks, std::size_t group, std::size_t block_rows,
                                   std::size_t rows, float* out) const {
    const std::size_t shard = host_.paddedVocab(vocab_) / host_.tp;
    for (std::size_t k = 0; k < host_.tp; ++k) {
        const float* block = blocks.data() + host_.replica(group, k) * block_rows * shard;
        const std::size_t width = std::min(shard, vocab_ - std::min(vocab_, k * shard));  // the padding dropped
        for (std::size_t i = 0; i < rows; ++i)
            std::memcpy(out + i * vocab_ + k * shard, block + i * shard, width * sizeof(float));
    }
}

void CompiledProgram::logits_of(const BatchView& b, float* out) const {
    const t5::BatchShape& s = shape();
    const std::size_t rows = std::size_t(b.batch) / host_.dp;
    std::vector<float> group(s.batch * s.tgt_len * vocab_);
    for (std::size_t g = 0; g < host_.dp; ++g) {
        gather_vocab(logits_, g, s.batch * s.tgt_len, s.batch * s.tgt_len, group.data());
        unpad(group.data(), s.tgt_len, rows, std::size_t(b.tgt_len), vocab_,
              out + g * rows * std::size_t(b.tgt_len) * vocab_);
    }
}

void CompiledProgram::encoder_output_of(const BatchView& b, float* out) const {
    const t5::BatchShape& s = shape();
    const std::size_t rows = std::size_t(b.batch) / host_.dp, block = s.batch * s.src_len * d_model_;
    for (std::size_t g = 0; g < host_.dp; ++g)
        unpad(encoder_output_.data() + host_.replica(g, 0) * block, s.src_len, rows, std::size_t(b.src_len), d_model_,
              out + g * rows * std::size_t(b.src_len) * d_model_);
}

void CompiledProgram::set_loss_scale(float scale) { std::fill(loss_scale_.begin(), loss_scale_.end(), scale); }

void CompiledProgram::set_dropout_seed(uint64_t seed, std::size_t entry) {
    unsigned* block = dropout_seed_.data() + 2 * host_.replicas() * entry;
    for (std::size_t r = 0; r < host_.replicas(); ++r) {
        const uint64_t s = seed + local_.first + host_.dpIndex(r);  // the run-wide data-parallel index
        block[2 * r] = unsigned(s);
        block[2 * r + 1] = unsigned(s >> 32);
    }
}

void CompiledProgram::set_optimizer_settings(const std::array<float, t5::AdamWStep::kCount>& values) {
    replicate(std::vector<float>(values.begin(), values.end()), optimizer_settings_);
}

void CompiledProgram::set_decode_prompts(const std::vector<int>& ids, const std::vector<int>& mask) {
    replicate(ids, decode_input_ids_);
    replicate(mask, decode_attention_mask_);
}

void CompiledProgram::set_decode_tokens(const std::vector<int>& tokens, const std::vector<int>& parents) {
    replicate(tokens, decode_tokens_);
    replicate(parents, decode_parents_);
}

void CompiledProgram::decode_logits_of(std::size_t rows, float* out) const {
    gather_vocab(decode_logits_, 0, decode_tokens_.size() / host_.replicas(), rows, out);
}

}  // namespace ft5::session
