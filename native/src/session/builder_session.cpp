#include "session/builder_session.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "abi/error.h"
#include "session/shape_bucket.h"
#include "t5/adamw.h"

namespace ft5::session {

namespace {

t5::T5Config builder_config(const model::ModelConfig& c) {
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

BuilderSession::BuilderSession(std::shared_ptr<ipu::Device> device, const model::ModelConfig& config,
                               bool weights_only)
    : device_(std::move(device)), config_(config), t5_config_(builder_config(config)), weights_only_(weights_only), rng_key_(mix(config.seed)) {
    try {
        t5_config_.validate();
    } catch (const std::invalid_argument& e) {
        invalid_argument(std::string("model: ") + e.what());
    }
    // The smallest program gives the parameter list (and holds the session state until another runs).
    CompiledProgram& first = program_for(t5::BatchShape{1, 1, 1, 1}, false);
    for (const auto& p : first.program().parameters().all()) {
        ParamInfo info;
        info.name = p.name;
        for (std::size_t d : p.logical_shape) info.shape.push_back(int64_t(d));
        info.count = int64_t(p.weight.numElements());
        info.split_dim = p.parallel_dim;
        info.no_weight_decay = !t5::decaysByDefault(p.name);
        params_.push_back(std::move(info));
    }
    for (const ParamInfo& p : params_)
        for (const std::string& handle : state_handles(p.name))
            state_.emplace_back(device_, 0, FT5_MEMORY_ON_CHIP, uint64_t(p.count) * sizeof(float), handle);
    // The eager session's order (index-based callers compare the two): each stack's relative position bias right
    // after its first self-attention.
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
    if (weights_only_) return {t5::Parameters::weightHandle(name)};
    return {t5::Parameters::weightHandle(name), t5::Parameters::gradientHandle(name),
            t5::AdamW::firstMomentHandle(name), t5::AdamW::secondMomentHandle(name)};
}

void BuilderSession::move_state(CompiledProgram& from, CompiledProgram& to) {
    std::vector<float> buffer;
    for (const ParamInfo& p : params_) {
        buffer.resize(std::size_t(p.count));
        for (const std::string& handle : state_handles(p.name)) {
            from.engine().readTensor(handle, buffer.data(), buffer.data() + buffer.size());
            to.engine().writeTensor(handle, buffer.data(), buffer.data() + buffer.size());
        }
    }
}

CompiledProgram& BuilderSession::program_for(const t5::BatchShape& shape, bool dropout, const t5::DecodeShape& decode) {
    const bool drops = dropout && t5_config_.dropout > 0.0f;
    const Key key{shape.batch, shape.src_len, shape.tgt_len, drops, decode.batch, decode.src_len, decode.max_len};
    auto it = programs_.find(key);
    if (it == programs_.end()) {
        t5::T5Config c = t5_config_;
        if (!drops) c.dropout = 0.0f;  // evaluation passes (training = 0) build without the dropout sites
        Entry e;
        e.program = std::make_unique<CompiledProgram>(c, device_->traffic(), shape, decode);
        it = programs_.emplace(key, std::move(e)).first;
    }
    Entry& entry = it->second;
    if (current_ == nullptr) {
        entry.state_version = state_version_;  // the first program: zero moments and gradients, weights unset
    } else if (entry.state_version != state_version_) {
        move_state(*current_->program, *entry.program);
        entry.state_version = state_version_;
    }
    current_ = &entry;
    return *entry.program;
}

CompiledProgram& BuilderSession::mutate() {
    ++state_version_;
    current_->state_version = state_version_;
    return *current_->program;
}

void BuilderSession::write(std::size_t index, ft5_param_slot slot, const float* data) {
    const ParamInfo& p = params_.at(index);
    CompiledProgram& prog = mutate();
    prog.engine().writeTensor(slot_handle(slot, p.name), data, data + p.count);
}

void BuilderSession::read(std::size_t index, ft5_param_slot slot, float* data) {
    const ParamInfo& p = params_.at(index);
    current_->program->engine().readTensor(slot_handle(slot, p.name), data, data + p.count);
}

ipu::ArenaReservation BuilderSession::activations(const CompiledProgram& program) const {
    return ipu::ArenaReservation(device_, 0, FT5_MEMORY_ON_CHIP, program.activation_bytes(), "activations");
}

double BuilderSession::forward(const model::BatchView& b, float* logits, float* encoder_hidden) {
    CompiledProgram& p = program_for(bucket_of(b), false);
    const auto held = activations(p);
    const t5::BatchShape& s = p.shape();
    pad_into(b, s, p.input_ids, p.attention_mask, p.decoder_input_ids, p.labels);
    p.run(t5::T5Program::kForward);
    if (logits)
        unpad(p.logits.data(), s.tgt_len, std::size_t(b.batch), std::size_t(b.tgt_len), std::size_t(config_.vocab),
              logits);
    if (encoder_hidden)
        unpad(p.encoder_output.data(), s.src_len, std::size_t(b.batch), std::size_t(b.src_len),
              std::size_t(config_.d_model), encoder_hidden);
    return b.labels ? double(p.loss) : std::nan("");
}

double BuilderSession::forward_backward(const model::BatchView& b, float loss_weight) {
    program_for(bucket_of(b), b.training);
    CompiledProgram& p = mutate();
    const auto held = activations(p);
    const t5::BatchShape& s = p.shape();
    pad_into(b, s, p.input_ids, p.attention_mask, p.decoder_input_ids, p.labels);
    p.loss_scale = loss_weight;
    if (p.program().dropout()) {
        const uint64_t seed = mix(rng_key_ + rng_counter_++);
        p.dropout_seed = {unsigned(seed), unsigned(seed >> 32)};
    }
    p.run(t5::T5Program::kForwardBackward);
    return double(p.loss);
}

void BuilderSession::zero_gradients() { mutate().run(t5::T5Program::kZeroGradients); }

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
    CompiledProgram& p = mutate();
    p.optimizer_settings = step.streamValues();
    p.run(t5::T5Program::kOptimizerStep);
    ft5_step_result r{};
    r.struct_size = sizeof(ft5_step_result);
    r.grad_norm = double(p.optimizer_result[0]);
    r.skipped_nonfinite = p.optimizer_result[1] != 0.0f ? 1 : 0;
    return r;
}

void BuilderSession::decode_begin(const int32_t* ids, const int32_t* mask, uint32_t rows, uint32_t src_len,
                                  uint32_t max_steps) {
    decode_.reset();
    decode_ = std::make_unique<BuilderDecode>(*this, ids, mask, rows, src_len, max_steps);
}

}  // namespace ft5::session
