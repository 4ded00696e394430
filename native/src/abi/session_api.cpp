// ft5_session_*: the T5 model on a device: parameters, forward/backward, AdamW, incremental decoding.
// Every argument is checked here, before the model sees it: a wrong shape or an id outside the vocabulary
// is a status with a message, never a crash. Every plan (tensor, pipeline and data parallelism, recomputation,
// weights or optimizer state in streaming memory) runs on the T5 builder's programs (session::BuilderSession).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "abi/descriptor.h"
#include "abi/error.h"
#include "abi/handle_registry.h"
#include "abi/handles.h"
#include "session/builder_session.h"
#include "session/placement.h"

using ft5::abi::HandleKind;
using ft5::abi::checked;
using ft5::invalid_argument;
using ft5::session::BuilderSession;
using ft5::session::ParamInfo;

ft5_session::~ft5_session() = default;

namespace {

// Far above any real batch: catches uninitialised fields before they turn into huge allocations.
constexpr uint32_t kMaxLen = 1u << 16;
constexpr uint64_t kMaxTokens = uint64_t(1) << 24;
constexpr uint32_t kMaxMicroBatches = 4096;

// The handle's session (a registered handle always holds one: ft5_session_create registers it once made).
BuilderSession& session_of(ft5_session* s) { return *checked(s, HandleKind::Session, "session")->builder; }
const BuilderSession& session_of(const ft5_session* s) { return *checked(s, HandleKind::Session, "session")->builder; }
// The data-parallel replicas whose rows a batch holds: this process's.
uint32_t replicas_of(const BuilderSession& s) { return uint32_t(s.local().count); }

// The data-parallel replicas this process runs (plan->first_local_replica, local_replicas; 0: all of them).
ft5::session::LocalReplicas check_local_replicas(const ft5_plan_desc& p, const ft5::session::Placement& placement) {
    if (p.local_replicas == 0) {
        if (p.first_local_replica != 0) {
            invalid_argument("plan->first_local_replica is " + std::to_string(p.first_local_replica) +
                             "; with local_replicas 0 (every replica in this process) it must be 0");
        }
        return {0, placement.replicas};
    }
    if (uint64_t(p.first_local_replica) + p.local_replicas > placement.replicas) {
        invalid_argument("plan->first_local_replica " + std::to_string(p.first_local_replica) + " + local_replicas " +
                         std::to_string(p.local_replicas) + " exceeds plan->replicas (" +
                         std::to_string(placement.replicas) + ")");
    }
    return {p.first_local_replica, p.local_replicas};
}

// Checks the plan fields this build does not derive from Placement; returns the placement.
ft5::session::Placement check_plan(const ft5_plan_desc& p, const ft5::session::ModelConfig& c, uint32_t num_ipus) {
    auto not_supported = [](const std::string& what) {
        ft5::fail(FT5_ERR_NOT_SUPPORTED, what + ": not supported by this build");
    };
    if (p.schedule != FT5_SCHEDULE_GPIPE && p.schedule != FT5_SCHEDULE_1F1B) {
        invalid_argument("plan->schedule is " + std::to_string(int(p.schedule)) + "; expected GPIPE or 1F1B");
    }
    if (p.recompute != 0 && p.recompute != 1) {
        invalid_argument("plan->recompute is " + std::to_string(p.recompute) + "; expected 0 or 1");
    }
    if (p.weights_only != 0 && p.weights_only != 1) {
        invalid_argument("plan->weights_only is " + std::to_string(p.weights_only) + "; expected 0 or 1");
    }
    for (auto [loc, field] : {std::pair{p.weights_location, "weights_location"},
                              std::pair{p.optimizer_location, "optimizer_location"}}) {
        if (loc != FT5_MEMORY_ON_CHIP && loc != FT5_MEMORY_STREAMING) {
            invalid_argument(std::string("plan->") + field + " is " + std::to_string(int(loc)) +
                             "; expected FT5_MEMORY_ON_CHIP or FT5_MEMORY_STREAMING");
        }
    }
    if (p.weights_location == FT5_MEMORY_STREAMING && p.optimizer_location != FT5_MEMORY_STREAMING) {
        not_supported("plan->weights_location is streaming memory with optimizer_location on chip (phased "
                      "execution streams the optimizer state as well: set both to FT5_MEMORY_STREAMING)");
    }
    if (p.precision != FT5_DTYPE_F32 && p.precision != FT5_DTYPE_F16) {
        invalid_argument("plan->precision is " + std::to_string(int(p.precision)) +
                         "; expected FT5_DTYPE_F32 or FT5_DTYPE_F16 (the IPU has no bf16 arithmetic)");
    }
    if (p.stochastic_rounding != 0 && p.stochastic_rounding != 1) {
        invalid_argument("plan->stochastic_rounding is " + std::to_string(p.stochastic_rounding) + "; expected 0 or 1");
    }
    if (p.master_weights != 0 && p.master_weights != 1) {
        invalid_argument("plan->master_weights is " + std::to_string(p.master_weights) + "; expected 0 or 1");
    }
    if (p.master_weights == 1 && p.precision != FT5_DTYPE_F16) {
        invalid_argument("plan->master_weights is 1 with precision f32; the master copy is of fp16 weights (precision "
                         "FT5_DTYPE_F16)");
    }
    if (p.master_weights == 1 && p.stochastic_rounding == 1) {
        invalid_argument("plan->master_weights and plan->stochastic_rounding are both 1: the master copy keeps the "
                         "update exactly in fp32 and rounds to nearest; choose one");
    }
    if (p.activation_ranges != 0 && p.activation_ranges != 1) {
        invalid_argument("plan->activation_ranges is " + std::to_string(p.activation_ranges) + "; expected 0 or 1");
    }
    if (p.detect_overflow != 0 && p.detect_overflow != 1) {
        invalid_argument("plan->detect_overflow is " + std::to_string(p.detect_overflow) + "; expected 0 or 1");
    }
    if ((p.fp16_mitigations & ~uint32_t(63)) != 0) {
        invalid_argument("plan->fp16_mitigations is " + std::to_string(p.fp16_mitigations) +
                         "; expected ft5_fp16_mitigation bits (1..32)");
    }
    if (p.fp16_mitigations != 0 && p.precision != FT5_DTYPE_F16) {
        invalid_argument("plan->fp16_mitigations is " + std::to_string(p.fp16_mitigations) +
                         " with precision f32; they change fp16 arithmetic (precision FT5_DTYPE_F16)");
    }
    if (p.fp16_mitigations != 0 && p.weights_only != 1) {
        invalid_argument("plan->fp16_mitigations is " + std::to_string(p.fp16_mitigations) +
                         " on a session that trains: they change the forward pass and decoding of a weights-only "
                         "session (plan->weights_only = 1); training runs as the reference fine-tune did, without them");
    }
    if (p.stochastic_rounding == 1 && p.precision != FT5_DTYPE_F16) {
        invalid_argument("plan->stochastic_rounding is 1 with precision f32; it rounds into fp16 (precision "
                         "FT5_DTYPE_F16)");
    }
    if (num_ipus < 1) invalid_argument("the device has no IPU");
    return ft5::session::Placement::from_plan(p, c, num_ipus);
}

void check_len(uint32_t value, const char* what) {
    if (value == 0 || value > kMaxLen) {
        invalid_argument(std::string(what) + " is " + std::to_string(value) + "; expected 1.." +
                         std::to_string(kMaxLen));
    }
}

void check_ids(const int32_t* ids, uint64_t count, int64_t vocab, const char* what, uint32_t row_len) {
    for (uint64_t i = 0; i < count; ++i) {
        if (ids[i] < 0 || int64_t(ids[i]) >= vocab) {
            invalid_argument(std::string(what) + "[" + std::to_string(i / row_len) + ", " + std::to_string(i % row_len) +
                             "] is " + std::to_string(ids[i]) + "; expected a token id in [0, " +
                             std::to_string(vocab) + ")");
        }
    }
}

void check_mask(const int32_t* mask, uint64_t count, const char* what, uint32_t row_len) {
    if (mask == nullptr) return;
    for (uint64_t i = 0; i < count; ++i) {
        if (mask[i] != 0 && mask[i] != 1) {
            invalid_argument(std::string(what) + "[" + std::to_string(i / row_len) + ", " + std::to_string(i % row_len) +
                             "] is " + std::to_string(mask[i]) + "; expected 0 or 1");
        }
    }
}

// The dimensions of a batch (or of a shape that will run batches), its fields named `prefix` + "batch" etc.:
// batch rows (a multiple of the replicas), lengths, tokens per side, and the training flag.
void check_dimensions(const std::string& what, const std::string& prefix, uint32_t batch, uint32_t src_len,
                      uint32_t tgt_len, int32_t training, uint32_t replicas) {
    check_len(batch, (prefix + "batch").c_str());
    if (batch % replicas != 0) {
        invalid_argument(prefix + "batch is " + std::to_string(batch) + "; with plan->replicas = " +
                         std::to_string(replicas) + " it must be a multiple of the replicas (each takes batch / "
                         "replicas rows)");
    }
    check_len(src_len, (prefix + "src_len").c_str());
    check_len(tgt_len, (prefix + "tgt_len").c_str());
    if (uint64_t(batch) * src_len > kMaxTokens || uint64_t(batch) * tgt_len > kMaxTokens) {
        invalid_argument(what + " of " + std::to_string(batch) + " x (" + std::to_string(src_len) + " + " +
                         std::to_string(tgt_len) + ") tokens exceeds " + std::to_string(kMaxTokens) + " per side");
    }
    if (training != 0 && training != 1) {
        invalid_argument(prefix + "training is " + std::to_string(training) + "; expected 0 or 1");
    }
}

ft5::session::BatchView check_batch(const ft5_batch* batch, const ft5::session::ModelConfig& c, bool need_labels,
                                    uint32_t replicas) {
    const auto b = ft5::abi::read_desc(batch, ft5_batch_init, "batch");
    check_dimensions("batch", "batch->", b.batch, b.src_len, b.tgt_len, b.training, replicas);
    const uint64_t src = uint64_t(b.batch) * b.src_len, tgt = uint64_t(b.batch) * b.tgt_len;
    if (b.input_ids == nullptr) invalid_argument("batch->input_ids is NULL");
    if (b.decoder_input_ids == nullptr) invalid_argument("batch->decoder_input_ids is NULL");
    if (need_labels && b.labels == nullptr) invalid_argument("batch->labels is NULL; a loss needs labels");
    check_ids(b.input_ids, src, c.vocab, "batch->input_ids", b.src_len);
    check_ids(b.decoder_input_ids, tgt, c.vocab, "batch->decoder_input_ids", b.tgt_len);
    check_mask(b.attention_mask, src, "batch->attention_mask", b.src_len);
    check_mask(b.decoder_attention_mask, tgt, "batch->decoder_attention_mask", b.tgt_len);
    if (b.labels != nullptr) {
        for (uint64_t i = 0; i < tgt; ++i) {
            const int32_t l = b.labels[i];
            if (l != -100 && (l < 0 || int64_t(l) >= c.vocab)) {
                invalid_argument("batch->labels[" + std::to_string(i / b.tgt_len) + ", " +
                                 std::to_string(i % b.tgt_len) + "] is " + std::to_string(l) +
                                 "; expected a token id in [0, " + std::to_string(c.vocab) + ") or -100 (ignored)");
            }
        }
    }
    ft5::session::BatchView v;
    v.batch = b.batch;
    v.src_len = b.src_len;
    v.tgt_len = b.tgt_len;
    v.input_ids = b.input_ids;
    v.attention_mask = b.attention_mask;
    v.decoder_input_ids = b.decoder_input_ids;
    v.labels = b.labels;
    v.decoder_attention_mask = b.decoder_attention_mask;
    v.training = b.training == 1;
    return v;
}

// The optimizer step's settings.
void check_step(const ft5_optimizer_step& s) {
    auto bad = [](const char* field, double value, const char* expected) {
        invalid_argument(std::string("step->") + field + " is " + std::to_string(value) + "; expected " + expected);
    };
    if (s.step < 1) bad("step", double(s.step), "a 1-based step number >= 1");
    if (!(std::isfinite(s.learning_rate) && s.learning_rate >= 0)) bad("learning_rate", s.learning_rate, "finite >= 0");
    if (!(s.beta1 >= 0 && s.beta1 < 1)) bad("beta1", s.beta1, "0 <= beta1 < 1");
    if (!(s.beta2 >= 0 && s.beta2 < 1)) bad("beta2", s.beta2, "0 <= beta2 < 1");
    if (!(std::isfinite(s.eps) && s.eps >= 0)) bad("eps", s.eps, "finite >= 0");
    if (!(std::isfinite(s.weight_decay) && s.weight_decay >= 0)) bad("weight_decay", s.weight_decay, "finite >= 0");
    if (s.decay_all_parameters != 0 && s.decay_all_parameters != 1) {
        bad("decay_all_parameters", s.decay_all_parameters, "0 or 1");
    }
    if (!(std::isfinite(s.grad_scale) && s.grad_scale > 0)) bad("grad_scale", s.grad_scale, "finite > 0");
    if (!(std::isfinite(s.max_grad_norm) && s.max_grad_norm >= 0)) bad("max_grad_norm", s.max_grad_norm, ">= 0");
}

const ParamInfo& param_at(const BuilderSession& s, uint32_t index) {
    const size_t size = s.params().size();
    if (index >= size) {
        invalid_argument("parameter index " + std::to_string(index) + " is out of range; the session has " +
                         std::to_string(size) + " parameters");
    }
    return s.params()[index];
}

// A weights-only session (plan->weights_only) has no gradients or moments: training calls are refused.
void require_training_state(const BuilderSession& s, const char* what) {
    if (s.weights_only()) {
        ft5::fail(FT5_ERR_NOT_SUPPORTED, std::string(what) +
                                             ": the session was created weights-only (plan->weights_only = 1) and "
                                             "has no gradients or AdamW moments");
    }
}

void check_slot(const BuilderSession& s, ft5_param_slot slot) {
    if (slot != FT5_SLOT_WEIGHT && slot != FT5_SLOT_GRADIENT && slot != FT5_SLOT_ADAM_M && slot != FT5_SLOT_ADAM_V) {
        invalid_argument("slot is " + std::to_string(int(slot)) +
                         "; expected FT5_SLOT_WEIGHT, _GRADIENT, _ADAM_M or _ADAM_V");
    }
    if (slot != FT5_SLOT_WEIGHT) {
        require_training_state(s, slot == FT5_SLOT_GRADIENT ? "the gradient slot" : "the AdamW moment slots");
    }
}

void check_count(const ParamInfo& p, size_t count, const void* data, int64_t expected, const std::string& what) {
    if (data == nullptr) invalid_argument("data is NULL (parameter '" + p.name + "')");
    if (count != size_t(expected)) {
        invalid_argument(what + " of parameter '" + p.name + "' has " + std::to_string(expected) +
                         " elements; count is " + std::to_string(count));
    }
}

void check_shard(const ParamInfo& p, uint32_t shard) {
    if (shard >= p.shards) {
        invalid_argument("shard " + std::to_string(shard) + " of parameter '" + p.name + "' is out of range; it has " +
                         std::to_string(p.shards) + " shard(s)");
    }
}

const ParamInfo& writable_param(const BuilderSession& s, uint32_t index, ft5_param_slot slot) {
    check_slot(s, slot);
    const ParamInfo& p = param_at(s, index);
    if (slot == FT5_SLOT_GRADIENT) {
        invalid_argument("the gradient of '" + p.name + "' is read-only through the ABI; use "
                         "ft5_session_zero_gradients or ft5_session_forward_backward");
    }
    return p;
}

// Reading a session's tensor reads its engine (not const in the SDK); the session state is unchanged.
BuilderSession& for_reading(const ft5_session* session) { return const_cast<BuilderSession&>(session_of(session)); }

}  // namespace

extern "C" {

ft5_status ft5_session_create(ft5_device* device, const ft5_model_desc* model, const ft5_plan_desc* plan,
                              ft5_session** out_session) {
    FT5_API_BEGIN
    ft5::abi::require_out(out_session, "out_session");
    *out_session = nullptr;
    auto* dev = checked(device, HandleKind::Device, "device");
    const auto m = ft5::abi::read_desc(model, ft5_model_desc_init, "model");
    const auto config = ft5::session::ModelConfig::from_desc(m);
    const auto p = ft5::abi::read_desc(plan, ft5_plan_desc_init, "plan");
    const auto placement = check_plan(p, config, dev->device->num_ipus());
    auto handle = std::make_unique<ft5_session>();
    handle->device = dev->device;
    const auto local = check_local_replicas(p, placement);
    ft5::t5::ParallelPlan parallel;
    parallel.tp = placement.tp;
    parallel.dp = placement.replicas;
    parallel.pp = placement.pp;
    if (placement.pp > 1) {
        parallel.encoder_stage.assign(placement.encoder_stage.begin(), placement.encoder_stage.end());
        parallel.decoder_stage.assign(placement.decoder_stage.begin(), placement.decoder_stage.end());
    }
    parallel.stream_weights = placement.weights_location == FT5_MEMORY_STREAMING;
    parallel.stream_optimizer = placement.optimizer_location == FT5_MEMORY_STREAMING;
    // phased execution runs a step's micro-batches one after another
    parallel.order = ft5::session::pipeline_order(placement.schedule, placement.pp, parallel.stream_weights);
    parallel.recompute = placement.recompute;
    parallel.trains = !placement.weights_only;
    parallel.precision.half = p.precision == FT5_DTYPE_F16;
    parallel.precision.stochastic_rounding = p.stochastic_rounding == 1;
    parallel.precision.detect_overflow = p.detect_overflow == 1;
    parallel.precision.activation_ranges = p.activation_ranges == 1;
    parallel.precision.master_weights = p.master_weights == 1;
    auto& mitigations = parallel.precision.mitigations;
    mitigations.wo_in_float = (p.fp16_mitigations & FT5_FP16_WO_FP32) != 0;
    mitigations.wo_scaled = (p.fp16_mitigations & FT5_FP16_WO_SCALED) != 0;
    mitigations.residual_in_float = (p.fp16_mitigations & FT5_FP16_RESIDUAL_FP32) != 0;
    mitigations.clamp = (p.fp16_mitigations & FT5_FP16_CLAMP) != 0;
    mitigations.mask_scaled = (p.fp16_mitigations & FT5_FP16_MASK_SCALED) != 0;
    mitigations.gelu_limited = (p.fp16_mitigations & FT5_FP16_GELU_LIMITED) != 0;
    handle->builder = std::make_unique<BuilderSession>(dev->device, config, parallel, local);
    ft5::abi::HandleRegistry::instance().add(handle.get(), HandleKind::Session);
    *out_session = handle.release();
    FT5_API_END
}

void ft5_session_destroy(ft5_session* session) {
    ft5::abi::clear_last_error();
    if (session == nullptr) return;
    if (!ft5::abi::HandleRegistry::instance().remove(session, HandleKind::Session)) return;
    delete session;  // NOLINT: pairs with make_unique().release() in ft5_session_create
}

ft5_status ft5_session_param_count(const ft5_session* session, uint32_t* out_count) {
    FT5_API_BEGIN
    const auto& s = session_of(session);
    *ft5::abi::require_out(out_count, "out_count") = uint32_t(s.params().size());
    FT5_API_END
}

ft5_status ft5_session_param_info(const ft5_session* session, uint32_t index, ft5_param_info* out_info) {
    FT5_API_BEGIN
    const auto& s = session_of(session);
    ft5::abi::require_out(out_info, "out_info");
    const ParamInfo& p = param_at(s, index);
    ft5_param_info info{};
    info.struct_size = sizeof(ft5_param_info);
    info.name = p.name.c_str();
    info.rank = uint32_t(p.shape.size());
    for (size_t i = 0; i < p.shape.size(); ++i) info.shape[i] = p.shape[i];
    info.shard_count = p.shards;
    info.shard_dim = p.split_dim;
    info.padded_dim = p.shards > 1 ? p.padded_dim : p.split_dim >= 0 ? p.shape[size_t(p.split_dim)] : 0;
    info.no_weight_decay = p.no_weight_decay ? 1 : 0;
    ft5::abi::write_desc(out_info, info, "out_info");
    FT5_API_END
}

ft5_status ft5_session_param_find(const ft5_session* session, const char* name, uint32_t* out_index) {
    FT5_API_BEGIN
    const auto& s = session_of(session);
    ft5::abi::require_out(out_index, "out_index");
    if (name == nullptr) invalid_argument("name is NULL");
    const std::string n(name, strnlen(name, 4096));
    const auto index = s.find(n);
    if (!index) invalid_argument("the session has no parameter named '" + n + "'");
    *out_index = uint32_t(*index);
    FT5_API_END
}

ft5_status ft5_session_param_write(ft5_session* session, uint32_t index, ft5_param_slot slot, const float* data,
                                   size_t count) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    const ParamInfo& p = writable_param(s, index, slot);
    check_count(p, count, data, p.count, "the whole tensor");
    s.write(index, slot, data);
    FT5_API_END
}

ft5_status ft5_session_param_read(const ft5_session* session, uint32_t index, ft5_param_slot slot, float* data,
                                  size_t count) {
    FT5_API_BEGIN
    auto& s = for_reading(session);
    check_slot(s, slot);
    const ParamInfo& p = param_at(s, index);
    check_count(p, count, data, p.count, "the whole tensor");
    s.read(index, slot, data);
    FT5_API_END
}

ft5_status ft5_session_param_write_shard(ft5_session* session, uint32_t index, uint32_t shard, ft5_param_slot slot,
                                         const float* data, size_t count) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    const ParamInfo& p = writable_param(s, index, slot);
    check_shard(p, shard);
    check_count(p, count, data, p.shard_elems, "shard " + std::to_string(shard));
    s.write(index, slot, data, shard);
    FT5_API_END
}

ft5_status ft5_session_param_read_shard(const ft5_session* session, uint32_t index, uint32_t shard,
                                        ft5_param_slot slot, float* data, size_t count) {
    FT5_API_BEGIN
    auto& s = for_reading(session);
    check_slot(s, slot);
    const ParamInfo& p = param_at(s, index);
    check_shard(p, shard);
    check_count(p, count, data, p.shard_elems, "shard " + std::to_string(shard));
    s.read(index, slot, data, shard);
    FT5_API_END
}

ft5_status ft5_session_forward(ft5_session* session, const ft5_batch* batch, float* logits, size_t logits_count,
                               float* encoder_hidden, size_t encoder_hidden_count, float* out_loss) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    const auto& c = s.config();
    const auto b = check_batch(batch, c, out_loss != nullptr, replicas_of(s));
    const uint64_t want_logits = uint64_t(b.batch * b.tgt_len) * uint64_t(c.vocab);
    if (logits != nullptr && logits_count != want_logits) {
        invalid_argument("logits_count is " + std::to_string(logits_count) + "; expected batch x tgt_len x vocab = " +
                         std::to_string(want_logits));
    }
    const uint64_t want_hidden = uint64_t(b.batch * b.src_len) * uint64_t(c.d_model);
    if (encoder_hidden != nullptr && encoder_hidden_count != want_hidden) {
        invalid_argument("encoder_hidden_count is " + std::to_string(encoder_hidden_count) +
                         "; expected batch x src_len x d_model = " + std::to_string(want_hidden));
    }
    const double loss = s.forward(b, logits, encoder_hidden);
    if (out_loss != nullptr) *out_loss = float(loss);
    FT5_API_END
}

ft5_status ft5_session_forward_backward(ft5_session* session, const ft5_batch* batch, float loss_weight,
                                        float* out_loss) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    require_training_state(s, "ft5_session_forward_backward");
    const auto b = check_batch(batch, s.config(), true, replicas_of(s));
    if (!std::isfinite(loss_weight)) {
        invalid_argument("loss_weight is " + std::to_string(loss_weight) + "; expected a finite value");
    }
    const double loss = s.forward_backward(b, loss_weight);
    if (out_loss != nullptr) *out_loss = float(loss);
    FT5_API_END
}

ft5_status ft5_session_forward_backward_micro_batches(ft5_session* session, const ft5_batch* const* batches,
                                                      uint32_t count, float loss_weight, float* out_losses,
                                                      size_t losses_count) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    require_training_state(s, "ft5_session_forward_backward_micro_batches");
    if (batches == nullptr) invalid_argument("batches is NULL");
    if (count == 0 || count > kMaxMicroBatches) {
        invalid_argument("count is " + std::to_string(count) + "; expected 1.." + std::to_string(kMaxMicroBatches));
    }
    if (out_losses != nullptr && losses_count != count) {
        invalid_argument("losses_count is " + std::to_string(losses_count) + "; expected count = " +
                         std::to_string(count));
    }
    if (!std::isfinite(loss_weight)) {
        invalid_argument("loss_weight is " + std::to_string(loss_weight) + "; expected a finite value");
    }
    std::vector<ft5::session::BatchView> views;
    views.reserve(count);
    for (uint32_t m = 0; m < count; ++m) {
        try {
            views.push_back(check_batch(batches[m], s.config(), true, replicas_of(s)));
        } catch (const ft5::Error& e) {
            ft5::fail(e.status(), "batches[" + std::to_string(m) + "]: " + e.message());
        }
    }
    const std::vector<double> losses = s.forward_backward_micro_batches(views, loss_weight);
    if (out_losses != nullptr)
        for (uint32_t m = 0; m < count; ++m) out_losses[m] = float(losses[m]);
    FT5_API_END
}

ft5_status ft5_session_zero_gradients(ft5_session* session) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    require_training_state(s, "ft5_session_zero_gradients");
    s.zero_gradients();
    FT5_API_END
}

ft5_status ft5_session_optimizer_step(ft5_session* session, const ft5_optimizer_step* step,
                                      ft5_step_result* out_result) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    require_training_state(s, "ft5_session_optimizer_step");
    ft5::abi::require_out(out_result, "out_result");
    if (out_result->struct_size < sizeof(uint32_t)) {
        invalid_argument("out_result->struct_size is " + std::to_string(out_result->struct_size) +
                         "; set it to sizeof(ft5_step_result) before the call");
    }
    const auto st = ft5::abi::read_desc(step, ft5_optimizer_step_init, "step");
    check_step(st);
    const ft5_step_result result = s.optimizer_step(st);
    ft5::abi::write_desc(out_result, result, "out_result");
    FT5_API_END
}

ft5_status ft5_session_get_rng_state(const ft5_session* session, uint64_t* out_state) {
    FT5_API_BEGIN
    const auto& s = session_of(session);
    *ft5::abi::require_out(out_state, "out_state") = s.rng_state();
    FT5_API_END
}

ft5_status ft5_session_set_rng_state(ft5_session* session, uint64_t state) {
    FT5_API_BEGIN
    session_of(session).set_rng_state(state);
    FT5_API_END
}

ft5_status ft5_session_decode_begin(ft5_session* session, const int32_t* input_ids, const int32_t* attention_mask,
                                    uint32_t batch, uint32_t src_len, uint32_t max_steps) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    const auto& c = s.config();
    check_len(batch, "batch");
    check_len(src_len, "src_len");
    check_len(max_steps, "max_steps");
    if (uint64_t(batch) * src_len > kMaxTokens || uint64_t(batch) * max_steps > kMaxTokens) {
        invalid_argument("decode of " + std::to_string(batch) + " rows exceeds " + std::to_string(kMaxTokens) +
                         " tokens");
    }
    if (input_ids == nullptr) invalid_argument("input_ids is NULL");
    check_ids(input_ids, uint64_t(batch) * src_len, c.vocab, "input_ids", src_len);
    check_mask(attention_mask, uint64_t(batch) * src_len, "attention_mask", src_len);
    s.decode_begin(input_ids, attention_mask, batch, src_len, max_steps);
    FT5_API_END
}

namespace {

ft5::session::BuilderDecode& decode_of(BuilderSession& s) {
    ft5::session::BuilderDecode* d = s.decode();
    if (d == nullptr) invalid_argument("no decode in progress; call ft5_session_decode_begin first");
    return *d;
}

// One decoding step; token_count < 0: the ABI 1.0 call, which has no count and trusts tokens to hold one per row.
void decode_step(ft5_session* session, const int32_t* tokens, int64_t token_count, float* logits,
                 size_t logits_count) {
    auto& s = session_of(session);
    auto& d = decode_of(s);
    const auto& c = s.config();
    if (tokens == nullptr) invalid_argument("tokens is NULL");
    if (logits == nullptr) invalid_argument("logits is NULL");
    const uint64_t rows = uint64_t(d.batch());
    if (token_count >= 0 && uint64_t(token_count) != rows) {
        invalid_argument("token_count is " + std::to_string(token_count) + "; expected one token per row of the decode, " +
                         std::to_string(rows));
    }
    const uint64_t want = rows * uint64_t(c.vocab);
    if (logits_count != want) {
        invalid_argument("logits_count is " + std::to_string(logits_count) + "; expected rows x vocab = " +
                         std::to_string(want));
    }
    check_ids(tokens, rows, c.vocab, "tokens", uint32_t(rows));
    d.step(tokens, logits);
}

}  // namespace

ft5_status ft5_session_decode_step(ft5_session* session, const int32_t* tokens, float* logits, size_t logits_count) {
    FT5_API_BEGIN
    decode_step(session, tokens, -1, logits, logits_count);
    FT5_API_END
}

ft5_status ft5_session_decode_step_v2(ft5_session* session, const int32_t* tokens, size_t token_count, float* logits,
                                      size_t logits_count) {
    FT5_API_BEGIN
    if (token_count > size_t(INT64_MAX)) invalid_argument("token_count is " + std::to_string(token_count));
    decode_step(session, tokens, int64_t(token_count), logits, logits_count);
    FT5_API_END
}

ft5_status ft5_session_decode_reorder(ft5_session* session, const int32_t* rows, uint32_t count) {
    FT5_API_BEGIN
    auto& d = decode_of(session_of(session));
    if (rows == nullptr) invalid_argument("rows is NULL");
    check_len(count, "count");
    for (uint32_t i = 0; i < count; ++i) {
        if (rows[i] < 0 || int64_t(rows[i]) >= d.batch()) {
            invalid_argument("rows[" + std::to_string(i) + "] is " + std::to_string(rows[i]) + "; expected a row in [0, " +
                             std::to_string(d.batch()) + ")");
        }
    }
    d.reorder(rows, count);
    FT5_API_END
}

ft5_status ft5_session_decode_end(ft5_session* session) {
    FT5_API_BEGIN
    session_of(session).decode_end();
    FT5_API_END
}

ft5_status ft5_session_activation_ranges(const ft5_session* session, float* out_max, uint32_t capacity,
                                        uint32_t* out_count) {
    FT5_API_BEGIN
    ft5::abi::require_out(out_count, "out_count");
    const auto& ranges = session_of(session).activation_ranges();
    if (capacity > 0 && out_max == nullptr) invalid_argument("out_max is NULL with capacity " + std::to_string(capacity));
    std::copy_n(ranges.begin(), std::min<std::size_t>(capacity, ranges.size()), out_max);
    *out_count = uint32_t(ranges.size());
    FT5_API_END
}

ft5_status ft5_session_activation_site(const ft5_session* session, uint32_t index, const char** out_name) {
    FT5_API_BEGIN
    ft5::abi::require_out(out_name, "out_name");
    const auto& sites = session_of(session).activation_sites();
    if (index >= sites.size()) {
        invalid_argument("index is " + std::to_string(index) + "; the session records " + std::to_string(sites.size()) +
                         " activation ranges (plan->activation_ranges)");
    }
    *out_name = sites[index].c_str();
    FT5_API_END
}

ft5_status ft5_session_programs_built(const ft5_session* session, uint32_t* out_count) {
    FT5_API_BEGIN
    *ft5::abi::require_out(out_count, "out_count") = session_of(session).programs_built();
    FT5_API_END
}

ft5_status ft5_session_prepare(ft5_session* session, const ft5_program_shape* shapes, size_t count) {
    FT5_API_BEGIN
    auto& s = session_of(session);
    if (shapes == nullptr && count != 0) invalid_argument("shapes is NULL but count is " + std::to_string(count));
    std::vector<ft5::session::ShapeRequest> requests;
    for (size_t i = 0; i < count; ++i) {
        const std::string at = "shapes[" + std::to_string(i) + "]";
        const auto d = ft5::abi::read_desc(shapes + i, ft5_program_shape_init, at.c_str());
        if (d.kind != FT5_PROGRAM_BATCH && d.kind != FT5_PROGRAM_DECODE)
            invalid_argument(at + ".kind is " + std::to_string(d.kind) + "; expected FT5_PROGRAM_BATCH (0) or "
                             "FT5_PROGRAM_DECODE (1)");
        const bool decode = d.kind == FT5_PROGRAM_DECODE;
        // every replica decodes all of a decode's rows
        check_dimensions(at, at + ".", d.batch, d.src_len, d.tgt_len, d.training, decode ? 1 : replicas_of(s));
        if (d.micro_batches > kMaxLen)
            invalid_argument(at + ".micro_batches is " + std::to_string(d.micro_batches) + "; expected 0.." +
                             std::to_string(kMaxLen));
        requests.push_back({decode, d.batch, d.src_len, d.tgt_len, std::max(d.micro_batches, 1u), d.training == 1});
    }
    s.prepare(requests);
    FT5_API_END
}

ft5_status ft5_session_engine_compilations(const ft5_session* session, uint32_t* out_count) {
    FT5_API_BEGIN
    *ft5::abi::require_out(out_count, "out_count") = session_of(session).compilations();
    FT5_API_END
}

}  // extern "C"
