#include "session/builder_session.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "abi/error.h"
#include "session/attached_device.h"
#include "session/sdk_measures.h"
#include "session/shape_bucket.h"
#include "t5/adamw.h"

namespace ft5::session {

namespace {

t5::T5Config builder_config(const ModelConfig& c) {
    t5::T5Config t;
    t.vocab = std::size_t(c.vocab);
    t.d_model = std::size_t(c.d_model);
    t.d_kv = std::size_t(c.d_kv);
    t.d_ff = std::size_t(c.d_ff);
    t.heads = std::size_t(c.heads);
    t.encoder_layers = std::size_t(c.encoder_layers);
    t.decoder_layers = std::size_t(c.decoder_layers);
    t.buckets = std::size_t(c.buckets);
    t.max_distance = std::size_t(c.max_distance);
    t.eps = c.eps;
    t.feed_forward = c.gated ? t5::FeedForward::GatedGelu : t5::FeedForward::Relu;
    t.tied = c.tied;
    t.embeddings = c.separate_embeddings ? t5::EmbeddingLayout::Separate : t5::EmbeddingLayout::Shared;
    t.dropout = c.dropout;
    return t;
}

// SplitMix64's finaliser: neighbouring counters give unrelated seeds.
uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::string slot_handle(ft5_param_slot slot, const std::string& name) {
    switch (slot) {
        case FT5_SLOT_GRADIENT: return t5::Parameters::gradientHandle(name);
        case FT5_SLOT_ADAM_M: return t5::AdamW::firstMomentHandle(name);
        case FT5_SLOT_ADAM_V: return t5::AdamW::secondMomentHandle(name);
        default: return t5::Parameters::weightHandle(name);
    }
}

}  // namespace

BuilderSession::BuilderSession(std::shared_ptr<ipu::Device> device, const ModelConfig& config,
                               const t5::ParallelPlan& plan, const LocalReplicas& local)
    : device_(std::move(device)), config_(config), t5_config_(builder_config(config)), plan_(plan),
      local_(local.count == 0 ? LocalReplicas{0, plan.dp} : local),
      rng_key_(mix(config.seed)) {
    try {
        t5_config_.validate();
    } catch (const std::invalid_argument& e) {
        invalid_argument(std::string("model: ") + e.what());
    }
    try {
        plan_.validate(t5_config_);
    } catch (const std::invalid_argument& e) {
        invalid_argument(std::string("plan: ") + e.what());
    }
    sdk_device_ = std::make_unique<poplar::Device>(attached_device(device_->topology(), plan_.replicas() * plan_.pp));
    // The smallest program set gives the parameter list.
    program_for(t5::BatchShape{1, 1, 1, 1}, false);
    const auto& all = engine_->program().parameters().all();
    for (std::size_t i = 0; i < all.size(); ++i) {
        const t5::Parameter& p = all[i];
        ParamInfo info;
        info.name = p.name;
        info.count = 1;
        for (std::size_t d : p.logical_shape) {
            info.shape.push_back(int64_t(d));
            info.count *= int64_t(d);
        }
        info.split_dim = p.parallel_dim;
        info.shards = p.split() ? uint32_t(plan_.tp) : 1u;
        info.padded_dim = p.split() ? int64_t(p.shard_extent * plan_.tp) : 0;
        info.shard_elems = int64_t(t5::shardElements(p));
        info.no_weight_decay = !t5::decaysByDefault(p.name);
        info.builder_index = i;
        info.stage = p.stage;
        params_.push_back(std::move(info));
    }
    for (const ParamInfo& p : params_)
        for (const uint32_t ipu : local_ipus(p.stage))
            for (const std::string& handle : state_handles(p.name))
                state_.emplace_back(device_, ipu, location_of(engine_->program(), handle),
                                    uint64_t(p.shard_elems) * state_element_bytes(engine_->program(), handle), handle);
    // The ABI's parameter order, which index-based callers rely on: Hugging Face's (state dict) order, with each
    // stack's relative position bias right after its first self-attention's output projection.
    auto position = [&](const std::string& name) {
        return std::find_if(params_.begin(), params_.end(), [&](const ParamInfo& p) { return p.name == name; });
    };
    auto move_after = [&](const std::string& name, std::vector<ParamInfo>::iterator after) {
        const auto from = position(name);
        if (from == params_.end()) return;
        if (from > after) std::rotate(after + 1, from, from + 1);
        else std::rotate(from, from + 1, after + 1);
    };
    for (const std::string stack : {"encoder", "decoder"}) {
        const std::string attention = stack + ".block.0.layer.0.SelfAttention.";
        move_after(attention + "relative_attention_bias.weight", position(attention + "o.weight"));
    }
}

BuilderSession::~BuilderSession() = default;

std::optional<std::size_t> BuilderSession::find(const std::string& name) const {
    for (std::size_t i = 0; i < params_.size(); ++i)
        if (params_[i].name == name) return i;
    return std::nullopt;
}

std::vector<std::string> BuilderSession::state_handles(const std::string& name) const {
    if (weights_only()) return {t5::Parameters::weightHandle(name)};
    std::vector<std::string> handles{t5::Parameters::weightHandle(name), t5::Parameters::gradientHandle(name),
                                     t5::AdamW::firstMomentHandle(name), t5::AdamW::secondMomentHandle(name)};
    // the master copy is state of its own (moved with the weight, which stands for it, and held where the moments are)
    if (plan_.precision.half && plan_.precision.master_weights) handles.push_back(t5::AdamW::masterHandle(name));
    return handles;
}

std::vector<uint32_t> BuilderSession::local_ipus(std::size_t stage) const {
    std::vector<uint32_t> ipus;
    for (std::size_t r = local_.first * plan_.tp; r < (local_.first + local_.count) * plan_.tp; ++r)
        ipus.push_back(uint32_t(r * plan_.pp + stage));  // Poplar replica r holds pp consecutive IPUs
    return ipus;
}

const t5::Parameter& BuilderSession::builder_param(const ParamInfo& p) const {
    return engine_->program().parameters().all()[p.builder_index];
}

std::vector<std::vector<float>> BuilderSession::read_state(SessionEngine& from) {
    std::vector<std::vector<float>> state;
    for (const ParamInfo& p : params_) {
        const t5::Parameter& param = from.program().parameters().all()[p.builder_index];
        for (const std::string& handle : state_handles(p.name)) state.push_back(from.read_replicas(param, handle));
    }
    return state;
}

void BuilderSession::write_state(SessionEngine& to, const std::vector<std::vector<float>>& state) {
    std::size_t next = 0;
    for (const ParamInfo& p : params_)
        for (const std::string& handle : state_handles(p.name)) to.write_replicas(handle, state.at(next++));
}

uint64_t BuilderSession::state_element_bytes(const t5::T5Program& program, const std::string& handle) const {
    return sdk_device_->getTarget().getTypeSize(program.stateType(handle));
}

ft5_memory_location BuilderSession::location_of(const t5::T5Program& program, const std::string& handle) {
    return program.inStreamingMemory(handle) ? FT5_MEMORY_STREAMING : FT5_MEMORY_ON_CHIP;
}

uint64_t BuilderSession::free_bytes(uint32_t ipu, ft5_memory_location location) const {
    const auto& arena = device_->arena(ipu, location);
    return arena.capacity() - std::min(arena.capacity(), arena.used());
}

void BuilderSession::check_state_fits(const t5::T5Program& program) const {
    for (std::size_t stage = 0; stage < plan_.pp; ++stage) {
        for (const ft5_memory_location location : {FT5_MEMORY_ON_CHIP, FT5_MEMORY_STREAMING}) {
            const bool on_chip = location == FT5_MEMORY_ON_CHIP;
            uint64_t need = 0;
            std::vector<std::pair<uint64_t, std::string>> tensors;
            for (const t5::Parameter& p : program.parameters().all()) {
                if (p.stage != stage) continue;
                uint64_t bytes = 0;
                for (const std::string& handle : state_handles(p.name))
                    if (location_of(program, handle) == location)
                        bytes += uint64_t(t5::shardElements(p)) * state_element_bytes(program, handle);
                need += bytes;
                if (bytes > 0) tensors.emplace_back(bytes, p.name);
            }
            if (need == 0) continue;
            std::stable_sort(tensors.begin(), tensors.end(),
                             [](const auto& a, const auto& b) { return a.first > b.first; });
            for (const uint32_t ipu : local_ipus(stage)) {
                const uint64_t available = free_bytes(ipu, location);
                if (need <= available) continue;
                std::string largest;
                for (std::size_t i = 0; i < tensors.size() && i < 3; ++i)
                    largest += (i ? ", " : "") + tensors[i].second + " (" + std::to_string(tensors[i].first) +
                               " bytes)";
                std::string msg = "IPU " + std::to_string(ipu) + (on_chip ? "" : "'s streaming memory") +
                                  " cannot hold its part of the model's state";
                msg += " (" + std::string(weights_only() ? "weights" : "weights, gradients and AdamW moments") +
                       " held " + (on_chip ? "on chip" : "in streaming memory") + "): it needs " +
                       std::to_string(need) + " bytes, " + std::to_string(available) +
                       " bytes are available; largest tensors: " + largest +
                       ". Split the model over more IPUs (tensor_parallel, pipeline_stages)";
                if (on_chip)
                    msg += weights_only() ? " or stream the weights (weights_location: streaming memory)"
                                         : ", or move the AdamW moments (optimizer_location) or all parameter "
                                           "state (weights_location) to streaming memory";
                fail(FT5_ERR_OUT_OF_MEMORY, msg);
            }
        }
    }
}

void BuilderSession::keep_summed_gradients_in_first_group() {
    if (!gradients_summed_) return;
    gradients_summed_ = false;
    SessionEngine& prog = *engine_;
    for (const ParamInfo& p : params_) {
        const std::string handle = t5::Parameters::gradientHandle(p.name);
        std::vector<float> blocks = prog.read_replicas(builder_param(p), handle);
        const std::size_t n = std::size_t(p.shard_elems);
        for (std::size_t r = 0; r < local_.count * plan_.tp; ++r)  // local replica r: run-wide group first + r / tp
            if (local_.first + r / plan_.tp != 0) std::fill_n(blocks.begin() + std::ptrdiff_t(r * n), n, 0.0f);
        prog.write_replicas(handle, blocks);
    }
}

BuilderSession::Key BuilderSession::key_of(const t5::ProgramShape& s) {
    return Key{s.batch.batch,  s.batch.src_len, s.batch.tgt_len,  s.batch.micro_batches,
               s.dropout,      s.decode.batch,  s.decode.src_len, s.decode.max_len};
}

ShapePrograms& BuilderSession::program_for(const t5::BatchShape& shape, bool dropout) {
    return programs_of(run_shape(t5::ProgramShape{shape, drops(dropout), {}}));
}

ShapePrograms& BuilderSession::program_for(const ShapeRequest& request) {
    return programs_of(run_shape(declared_shape(request)));
}

ShapePrograms& BuilderSession::programs_of(const t5::ProgramShape& shape) {
    ensure({shape});
    return engine_->shape_programs(set_of_.at(key_of(shape)));
}

t5::DecodeShape BuilderSession::decode_runs_on(const ShapeRequest& request) const {
    return run_shape(declared_shape(request)).decode;
}

t5::ProgramShape BuilderSession::declared_shape(const ShapeRequest& r) const {
    if (r.decode) {
        t5::DecodeShape d;
        d.batch = r.batch;
        d.src_len = r.src_len;
        d.max_len = r.tgt_len;
        return t5::ProgramShape{t5::BatchShape{1, 1, 1, 1}, false, d};
    }
    BatchView b;
    b.batch = int64_t(r.batch);
    b.src_len = int64_t(r.src_len);
    b.tgt_len = int64_t(r.tgt_len);
    t5::BatchShape shape = replica_shape(b);
    // one pipeline stage runs a call's micro-batches one at a time
    if (plan_.pp > 1 && r.micro_batches > 1) shape.micro_batches = r.micro_batches;
    return t5::ProgramShape{shape, drops(r.training), {}};
}

const t5::ProgramShape* BuilderSession::smallest_declared(
    const std::function<std::optional<std::size_t>(const t5::ProgramShape&)>& tokens_if_it_holds) const {
    const t5::ProgramShape* best = nullptr;
    std::size_t best_tokens = 0;
    for (const t5::ProgramShape& s : sets_) {
        if (!declared_.count(key_of(s))) continue;
        const std::optional<std::size_t> tokens = tokens_if_it_holds(s);
        if (tokens && (!best || *tokens < best_tokens)) {
            best = &s;
            best_tokens = *tokens;
        }
    }
    return best;
}

t5::ProgramShape BuilderSession::run_shape(const t5::ProgramShape& rows) const {
    if (rows.decode.enabled()) return run_decode_shape(rows.decode);
    const t5::BatchShape& want = rows.batch;
    const t5::ProgramShape* best = smallest_declared([&](const t5::ProgramShape& s) -> std::optional<std::size_t> {
        const t5::BatchShape& have = s.batch;
        if (s.decode.enabled() || s.dropout != rows.dropout || have.micro_batches != want.micro_batches) return {};
        if (have.batch < want.batch || have.src_len < want.src_len || have.tgt_len < want.tgt_len) return {};
        return have.batch * (have.src_len + have.tgt_len);
    });
    if (best) return *best;
    t5::ProgramShape bucketed = rows;
    bucketed.batch.batch = bucket_of(want.batch);
    bucketed.batch.src_len = bucket_of(want.src_len);
    bucketed.batch.tgt_len = bucket_of(want.tgt_len);
    return bucketed;
}

t5::ProgramShape BuilderSession::run_decode_shape(const t5::DecodeShape& want) const {
    const t5::ProgramShape* best = smallest_declared([&](const t5::ProgramShape& s) -> std::optional<std::size_t> {
        const t5::DecodeShape& have = s.decode;
        if (!have.enabled()) return {};
        if (have.batch < want.batch || have.src_len < want.src_len || have.max_len < want.max_len) return {};
        return have.batch * (have.src_len + have.max_len);
    });
    if (best) return *best;
    t5::DecodeShape bucketed;
    bucketed.batch = bucket_of(want.batch);
    bucketed.src_len = bucket_of(want.src_len);
    bucketed.max_len = bucket_of(want.max_len);
    return t5::ProgramShape{t5::BatchShape{1, 1, 1, 1}, false, bucketed};
}

void BuilderSession::prepare(const std::vector<ShapeRequest>& requests) {
    std::vector<t5::ProgramShape> wanted;
    for (const ShapeRequest& r : requests) wanted.push_back(declared_shape(r));
    ensure(wanted);
    for (const t5::ProgramShape& w : wanted) declared_.insert(key_of(w));
}

void BuilderSession::ensure(const std::vector<t5::ProgramShape>& wanted) {
    std::vector<t5::ProgramShape> sets = sets_;
    std::map<Key, std::size_t> set_of = set_of_;
    for (const t5::ProgramShape& w : wanted)
        if (set_of.emplace(key_of(w), sets.size()).second) sets.push_back(w);
    if (sets.size() == sets_.size()) return;
    std::function<void(const t5::T5Program&)> before_compile;
    if (!engine_) before_compile = [this](const t5::T5Program& p) { check_state_fits(p); };
    auto compile = [&](const std::vector<t5::ProgramShape>& program_sets) {
        auto engine = std::make_unique<SessionEngine>(*sdk_device_, t5_config_, plan_, device_->traffic(),
                                                      program_sets, local_, before_compile);
        use_host_threads(engine->engine(), device_->topology().threads());
        return engine;
    };
    // After a failure the session runs the program sets it had (an engine holding no state is compiled again).
    auto restore = [&] {
        if (engine_) decode_state_ = reserve_decode_state(*engine_);
        if (engine_ || sets_.empty()) return;
        engine_ = compile(sets_);
        ++compilations_;
        decode_state_ = reserve_decode_state(*engine_);
        engine_->load();
    };
    // With no state to move, the engine before goes first: the two never hold memory at once.
    if (engine_ && !state_defined_) engine_.reset();
    std::unique_ptr<SessionEngine> next;
    try {
        next = compile(sets);
    } catch (...) {
        restore();
        throw;
    }
    ++compilations_;
    decode_state_.clear();  // the engine before holds its decode state no more
    try {
        decode_state_ = reserve_decode_state(*next);
    } catch (...) {
        next.reset();
        restore();
        throw;
    }
    // The device runs one engine at a time, and loading one loses what the one before held on the device: the
    // state goes through the host to the new engine.
    std::vector<std::vector<float>> state;
    if (engine_ && state_defined_) state = read_state(*engine_);
    try {
        next->load();
    } catch (...) {
        // The new engine did not load: the one before holds the state again.
        next.reset();
        decode_state_.clear();
        if (engine_) {
            engine_->load();
            if (!state.empty()) write_state(*engine_, state);
        }
        restore();
        throw;
    }
    if (!state.empty()) write_state(*next, state);
    engine_ = std::move(next);
    sets_ = std::move(sets);
    set_of_ = std::move(set_of);
}

void BuilderSession::write(std::size_t index, ft5_param_slot slot, const float* data, int64_t shard) {
    const ParamInfo& p = params_.at(index);
    SessionEngine& prog = *engine_;
    state_defined_ = true;
    const std::string handle = slot_handle(slot, p.name);
    if (shard < 0) {
        prog.write_logical(builder_param(p), handle, std::vector<float>(data, data + p.count));
    } else {
        prog.write_shard(builder_param(p), handle, std::size_t(shard),
                         std::vector<float>(data, data + p.shard_elems));
    }
}

void BuilderSession::read(std::size_t index, ft5_param_slot slot, float* data, int64_t shard) {
    const ParamInfo& p = params_.at(index);
    SessionEngine& prog = *engine_;
    // before an optimizer step each data-parallel group holds its own rows' part of the gradient
    const bool sum_data = slot == FT5_SLOT_GRADIENT && !gradients_summed_;
    const std::string handle = slot_handle(slot, p.name);
    const std::vector<float> values = shard < 0 ? prog.read_logical(builder_param(p), handle, sum_data)
                                                : prog.read_shard(builder_param(p), handle, std::size_t(shard), sum_data);
    std::copy(values.begin(), values.end(), data);
}

std::vector<ipu::ArenaReservation> BuilderSession::reserve_decode_state(const SessionEngine& engine) const {
    std::vector<ipu::ArenaReservation> held;
    for (std::size_t stage = 0; stage < plan_.pp; ++stage) {
        const uint64_t need = engine.program().decodeStateBytes(stage);
        if (need == 0) continue;
        for (const uint32_t ipu : local_ipus(stage)) {
            if (const uint64_t available = free_bytes(ipu, FT5_MEMORY_ON_CHIP); need > available) {
                fail(FT5_ERR_OUT_OF_MEMORY,
                     "IPU " + std::to_string(ipu) + " cannot hold the key/value caches of the session's decode " +
                         "programs (every declared decode shape keeps its own while the engine lives): they need " +
                         std::to_string(need) + " bytes, " + std::to_string(available) +
                         " bytes are available. Declare fewer or smaller decodes (rows, prompt length, max_steps), " +
                         "or split the model over more IPUs");
            }
            held.emplace_back(device_, ipu, FT5_MEMORY_ON_CHIP, need, "decode caches");
        }
    }
    return held;
}

std::vector<ipu::ArenaReservation> BuilderSession::activations() const {
    std::vector<ipu::ArenaReservation> held;
    for (std::size_t stage = 0; stage < plan_.pp; ++stage)
        for (const uint32_t ipu : local_ipus(stage))
            held.emplace_back(device_, ipu, FT5_MEMORY_ON_CHIP, engine_->activation_bytes(stage), "activations");
    return held;
}

t5::BatchShape BuilderSession::replica_shape(const BatchView& b) const {
    BatchView rows = b;
    rows.batch = b.batch / int64_t(local_.count);  // each data-parallel replica runs its own share of the rows
    return t5::BatchShape{std::size_t(rows.batch), std::size_t(rows.src_len), std::size_t(rows.tgt_len)};
}

double BuilderSession::forward(const BatchView& b, float* logits, float* encoder_hidden) {
    ShapePrograms& p = program_for(replica_shape(b), false);
    const auto held = activations();
    p.set_batch(b);
    p.run(t5::T5Program::kForward);
    activation_ranges_ = p.activation_ranges();
    if (logits) p.logits_of(b, logits);
    if (encoder_hidden) p.encoder_output_of(b, encoder_hidden);
    return b.labels ? double(p.loss()) : std::nan("");
}

double BuilderSession::forward_backward(const BatchView& b, float loss_weight) {
    ShapePrograms& p = program_for(replica_shape(b), b.training);
    state_defined_ = true;
    keep_summed_gradients_in_first_group();
    const auto held = activations();
    p.set_batch(b);
    p.set_loss_scale(loss_weight);
    if (p.dropout()) p.set_dropout_seed(mix(rng_key_ + rng_counter_++));
    p.run(t5::T5Program::kForwardBackward);
    return double(p.loss());
}

std::vector<double> BuilderSession::forward_backward_micro_batches(const std::vector<BatchView>& batches,
                                                                  float loss_weight) {
    std::vector<double> losses;
    if (plan_.pp == 1 || batches.size() == 1) {
        for (const auto& b : batches) {
            try {
                losses.push_back(forward_backward(b, loss_weight));
            } catch (const Error& e) {
                // a detected overflow says which micro-batch of the step it was
                if (e.status() != FT5_ERR_FLOATING_POINT) throw;
                fail(FT5_ERR_FLOATING_POINT, "micro-batch " + std::to_string(losses.size() + 1) + " of " +
                                                 std::to_string(batches.size()) + ": " + e.message());
            }
        }
        return losses;
    }
    try {
        return scheduled_micro_batches(batches, loss_weight);
    } catch (const Error& e) {
        if (e.status() != FT5_ERR_FLOATING_POINT) throw;
        fail(FT5_ERR_FLOATING_POINT, "one of the step's " + std::to_string(batches.size()) +
                                         " pipelined micro-batches: " + e.message());
    }
}

std::vector<double> BuilderSession::scheduled_micro_batches(const std::vector<BatchView>& batches, float loss_weight) {
    std::vector<double> losses;
    t5::BatchShape shape{0, 0, 0, batches.size()};
    bool training = false;
    for (const auto& b : batches) {
        const t5::BatchShape s = replica_shape(b);
        shape.batch = std::max(shape.batch, s.batch);
        shape.src_len = std::max(shape.src_len, s.src_len);
        shape.tgt_len = std::max(shape.tgt_len, s.tgt_len);
        training = training || b.training;
    }
    ShapePrograms& p = program_for(shape, training);
    state_defined_ = true;
    keep_summed_gradients_in_first_group();
    const auto held = activations();
    p.set_loss_scale(loss_weight);
    for (std::size_t k = 0; k < batches.size(); ++k) {
        p.set_micro_batch(k, batches[k]);
        if (p.dropout()) p.set_dropout_seed(mix(rng_key_ + rng_counter_++), k);
    }
    p.run(t5::T5Program::kScheduledMicroBatches);
    for (std::size_t k = 0; k < batches.size(); ++k) losses.push_back(double(p.loss_of(k)));
    return losses;
}

void BuilderSession::zero_gradients() {
    engine_->run(0, t5::T5Program::kZeroGradients);
    state_defined_ = true;
    gradients_summed_ = false;
}

ft5_step_result BuilderSession::optimizer_step(const ft5_optimizer_step& s) {
    t5::AdamWStep step;
    step.step = s.step;
    step.learning_rate = s.learning_rate;
    step.beta1 = s.beta1;
    step.beta2 = s.beta2;
    step.eps = s.eps;
    step.weight_decay = s.weight_decay;
    step.decay_all_parameters = s.decay_all_parameters == 1;
    step.grad_scale = s.grad_scale;
    step.max_grad_norm = s.max_grad_norm;
    // the step's stochastic rounding depends on the run's seed and the step only: a resumed run rounds alike
    step.rounding_seed = mix(rng_key_ ^ mix(s.step));
    engine_->set_optimizer_settings(step.streamValues());
    engine_->set_rounding_seed(step.roundingSeedValues());
    engine_->run(0, t5::T5Program::kOptimizerStep);
    state_defined_ = true;
    gradients_summed_ = plan_.dp > 1;
    const auto result = engine_->optimizer_result();
    ft5_step_result r{};
    r.struct_size = sizeof(ft5_step_result);
    r.grad_norm = double(result[0]);
    r.skipped_nonfinite = result[1] != 0.0f ? 1 : 0;
    return r;
}

void BuilderSession::decode_begin(const int32_t* ids, const int32_t* mask, uint32_t rows, uint32_t src_len,
                                  uint32_t max_steps) {
    decode_.reset();
    decode_ = std::make_unique<BuilderDecode>(*this, ids, mask, rows, src_len, max_steps);
}

}  // namespace ft5::session
