#include "session/session_engine.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <poplar/OptionFlags.hpp>
#include <poplar/Target.hpp>
#include <poplar/exceptions.hpp>

#include "abi/error.h"
#include "session/sdk_measures.h"

namespace ft5::session {

namespace {

constexpr float kHalfMax = 65504.0f;

std::string describe(const t5::ProgramShape& s) {
    std::string d = "batch " + std::to_string(s.batch.batch) + " x source " + std::to_string(s.batch.src_len) +
                    " x target " + std::to_string(s.batch.tgt_len) + " tokens";
    if (s.decode.enabled())
        d += " (decoding " + std::to_string(s.decode.batch) + " rows of " + std::to_string(s.decode.src_len) +
             " tokens, " + std::to_string(s.decode.max_len) + " cached positions)";
    return d;
}

}  // namespace

SessionEngine::SessionEngine(poplar::Device& device, const t5::T5Config& config, const t5::ParallelPlan& plan,
                             ipu::TrafficCounters& traffic, const std::vector<t5::ProgramShape>& sets,
                             const LocalReplicas& local, const std::function<void(const t5::T5Program&)>& before_compile)
    : plan_(plan), local_(local.count == 0 ? LocalReplicas{0, plan.dp} : local), host_{plan.tp, local_.count},
      vocab_(config.vocab), d_model_(config.d_model), traffic_(traffic), device_(device),
      graph_(std::make_unique<poplar::Graph>(device_.getTarget(),
                                             poplar::replication_factor(unsigned(plan.replicas())))),
      program_(std::make_unique<t5::T5Program>(*graph_, config, sets, plan)) {
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
        // The last shape is the one being added; the others ran before.
        std::string others;
        for (std::size_t i = 0; i + 1 < sets.size(); ++i) others += (i ? "; " : "") + describe(sets[i]);
        fail(FT5_ERR_OUT_OF_MEMORY,
             "the program for " + describe(sets.back()) + " does not fit on chip" +
                 (others.empty() ? "" : " beside the engine's other programs (" + others + ")") + ": " + e.what() +
                 ". Use smaller micro-batches or fewer length buckets, recomputation, or more IPUs "
                 "(tensor_parallel, pipeline_stages)");
    }
    activation_bytes_ = compiled_activation_bytes(*engine_, plan.pp);
    if (plan_.trains) {
        optimizer_settings_.resize(host_.replicas() * t5::AdamWStep::kCount);
        optimizer_result_.resize(2 * host_.replicas());
        engine_->connectStream(t5::streams::kOptimizerSettings, optimizer_settings_.data(),
                               optimizer_settings_.data() + optimizer_settings_.size());
        engine_->connectStream(t5::streams::kOptimizerResult, optimizer_result_.data(),
                               optimizer_result_.data() + optimizer_result_.size());
        if (program_->roundsStochastically()) {
            rounding_seed_.resize(2 * host_.replicas());
            engine_->connectStream(t5::streams::kRoundingSeed, rounding_seed_.data(),
                                   rounding_seed_.data() + rounding_seed_.size());
        }
    }
    for (std::size_t s = 0; s < program_->setCount(); ++s) shapes_.push_back(std::make_unique<ShapePrograms>(*this, s));
}

SessionEngine::~SessionEngine() = default;

void SessionEngine::run(std::size_t set, t5::T5Program::Index index) {
    try {
        engine_->run(program_->programIndex(set, index));
    } catch (const poplar::application_runtime_error& e) {
        // plan->detect_overflow armed the exceptions; the message names the op, the value and the ranges
        if (std::string(e.what()).rfind("floating-point exception", 0) != 0) throw;
        fail(FT5_ERR_FLOATING_POINT, e.what());
    }
    const RunCost run = last_run_cost(*engine_);
    traffic_.estimated_cycles += uint64_t(std::llround(run.cycles));
    traffic_.inter_ipu_bytes += uint64_t(std::llround(run.ipu_link_bytes * double(host_.replicas())));
    traffic_.collectives += run.link_steps;
    traffic_.streaming_bytes += uint64_t(std::llround(run.remote_bytes * double(host_.replicas())));
}

bool SessionEngine::master_of(const std::string& handle) const {
    return program_->keepsMasterWeights() && handle.rfind(t5::Parameters::weightHandle(""), 0) == 0;
}

std::vector<float> SessionEngine::read_replicas(const t5::Parameter& p, const std::string& handle) {
    // a weight with a master copy is its master: the exact state the training left
    if (master_of(handle)) return read_tensor(p, t5::AdamW::masterHandle(p.name));
    return read_tensor(p, handle);
}

void SessionEngine::write_replicas(const std::string& handle, const std::vector<float>& blocks) {
    // the HALF weight takes the values rounded to nearest (as the update rounds the master), refusing any past its
    // range before anything is written, and the master the values themselves
    write_tensor(handle, blocks);
    if (master_of(handle))
        write_tensor(t5::AdamW::masterHandle(handle.substr(t5::Parameters::weightHandle("").size())), blocks);
}

std::vector<float> SessionEngine::read_tensor(const t5::Parameter& p, const std::string& handle) {
    const std::size_t n = t5::shardElements(p);
    const bool half = program_->stateType(handle) == poplar::HALF;
    // a HALF tensor's host buffer holds the device's halves (2 bytes each)
    std::vector<std::uint16_t> halves(half ? host_.replicas() * n : 0);
    std::vector<float> blocks(host_.replicas() * n);
    void* buffer = half ? static_cast<void*>(halves.data()) : static_cast<void*>(blocks.data());
    const std::size_t element = half ? sizeof(std::uint16_t) : sizeof(float);
    char* bytes = static_cast<char*>(buffer);
    if (!program_->inStreamingMemory(handle)) {
        engine_->readTensor(handle, bytes, bytes + blocks.size() * element);
    } else {
        for (std::size_t i = 0; i < host_.replicas(); ++i)
            engine_->copyFromRemoteBuffer(handle, bytes + i * n * element, 0, unsigned(first_replica() + i));
    }
    if (half) poplar::copyDeviceHalfToFloat(device_.getTarget(), halves.data(), blocks.data(), blocks.size());
    return blocks;
}

void SessionEngine::write_tensor(const std::string& handle, const std::vector<float>& blocks) {
    const bool half = program_->stateType(handle) == poplar::HALF;
    std::vector<std::uint16_t> halves(half ? blocks.size() : 0);
    if (half) {
        const auto past = std::find_if(blocks.begin(), blocks.end(),
                                       [](float v) { return std::isfinite(v) && std::fabs(v) > kHalfMax; });
        if (past != blocks.end())
            invalid_argument(handle + " holds " + std::to_string(*past) + " at element " +
                             std::to_string(past - blocks.begin()) + " of its replicas' blocks: past fp16's largest "
                             "value (65504); the session computes in fp16 (plan precision), so it cannot hold it");
        poplar::copyFloatToDeviceHalf(device_.getTarget(), blocks.data(), halves.data(), blocks.size());
    }
    const std::size_t element = half ? sizeof(std::uint16_t) : sizeof(float);
    // the SDK's signatures take void*, and only read it
    char* bytes = half ? reinterpret_cast<char*>(halves.data()) : reinterpret_cast<char*>(const_cast<float*>(blocks.data()));
    if (!program_->inStreamingMemory(handle)) {
        engine_->writeTensor(handle, bytes, bytes + blocks.size() * element);
        return;
    }
    const std::size_t n = blocks.size() / host_.replicas();
    for (std::size_t i = 0; i < host_.replicas(); ++i)
        engine_->copyToRemoteBuffer(bytes + i * n * element, handle, 0, unsigned(first_replica() + i));
}

void SessionEngine::load() {
    engine_->load(device_);
    zero_streaming_state();  // remote buffers start undefined on an IPU: zero moments and gradients, as on chip
}

void SessionEngine::zero_streaming_state() {
    for (const t5::Parameter& p : program_->parameters().all()) {
        const std::vector<float> zeros(host_.replicas() * t5::shardElements(p), 0.0f);
        std::vector<std::string> handles = {t5::Parameters::weightHandle(p.name)};
        if (plan_.trains)
            handles.insert(handles.end(), {t5::Parameters::gradientHandle(p.name), t5::AdamW::firstMomentHandle(p.name),
                                           t5::AdamW::secondMomentHandle(p.name)});
        if (program_->keepsMasterWeights()) handles.push_back(t5::AdamW::masterHandle(p.name));
        for (const std::string& handle : handles)
            if (program_->inStreamingMemory(handle)) write_tensor(handle, zeros);
    }
}

std::vector<float> SessionEngine::read_logical(const t5::Parameter& p, const std::string& handle, bool sum_data) {
    if (host_.replicas() == 1) return read_replicas(p, handle);
    return t5::logicalTensor(p, host_, read_replicas(p, handle), sum_data);
}

void SessionEngine::write_logical(const t5::Parameter& p, const std::string& handle,
                                  const std::vector<float>& logical) {
    write_replicas(handle, host_.replicas() == 1 ? logical : t5::replicaBuffer(p, host_, logical));
}

std::vector<float> SessionEngine::read_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank,
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

void SessionEngine::write_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank,
                                const std::vector<float>& shard) {
    const std::size_t n = t5::shardElements(p);
    std::vector<float> blocks = read_replicas(p, handle);
    // A parameter every rank holds whole has one shard: all its blocks take it.
    for (std::size_t r = 0; r < host_.replicas(); ++r)
        if (!p.split() || host_.tpRank(r) == rank) std::copy(shard.begin(), shard.end(), blocks.begin() + r * n);
    write_replicas(handle, blocks);
}

void SessionEngine::set_rounding_seed(const std::array<unsigned, 2>& seed) {
    for (std::size_t r = 0; r < rounding_seed_.size() / 2; ++r) std::copy(seed.begin(), seed.end(), rounding_seed_.begin() + std::ptrdiff_t(2 * r));
}

void SessionEngine::set_optimizer_settings(const std::array<float, t5::AdamWStep::kCount>& values) {
    for (std::size_t r = 0; r < host_.replicas(); ++r)
        std::copy(values.begin(), values.end(), optimizer_settings_.begin() + std::ptrdiff_t(r * values.size()));
}

}  // namespace ft5::session
