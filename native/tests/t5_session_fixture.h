// Test helper: a session built from one of the tiny fixture checkpoints (config.json + model.safetensors),
// with its reference tensors at hand.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "test_json.h"
#include "test_safetensors.h"

namespace ft5::test {

inline std::string fixture_path(const std::string& model, const std::string& file) {
    return std::string(FT5_FIXTURES_DIR) + "/" + model + "/" + file;
}

// ||a - b|| / ||b||
template <typename A, typename B>
double rel_err(const std::vector<A>& a, const std::vector<B>& b) {
    if (a.size() != b.size()) return INFINITY;
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double d = double(a[i]) - double(b[i]);
        num += d * d;
        den += double(b[i]) * double(b[i]);
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

// A session's number formats (ft5_plan_desc's precision and stochastic_rounding).
struct Numerics {
    ft5_dtype precision = FT5_DTYPE_F32;
    int32_t stochastic_rounding = 0;
    int32_t detect_overflow = 0;
    uint32_t fp16_mitigations = 0;  // ft5_fp16_mitigation bits (a weights-only session)
    int32_t activation_ranges = 0;
    int32_t master_weights = 0;
};

struct SessionFixture {
    std::string model;
    JsonValue config;
    ft5_model_desc desc{};
    ft5_device* device = nullptr;
    ft5_session* session = nullptr;

    // tp x pp x replicas: the plan (on a device with that many IPUs); optimizer_location: where AdamW's moments
    // live; recompute: plan->recompute; weights_location: where weights and gradients live; schedule: the
    // pipeline schedule; weights_only: plan->weights_only (no gradients or moments); numerics: plan->precision and
    // stochastic_rounding.
    explicit SessionFixture(const std::string& name, float dropout = -1.0f, uint32_t threads = 2, uint32_t tp = 1,
                            uint32_t pp = 1, uint32_t replicas = 1,
                            ft5_memory_location optimizer_location = FT5_MEMORY_ON_CHIP, uint32_t recompute = 0,
                            ft5_memory_location weights_location = FT5_MEMORY_ON_CHIP,
                            ft5_pipeline_schedule schedule = FT5_SCHEDULE_GPIPE, uint32_t weights_only = 0,
                            Numerics numerics = {})
        : model(name) {
        config = parse_json(read_text(fixture_path(name, "config.json")));
        const SafetensorsFile weights(fixture_path(name, "model.safetensors"));
        ft5_model_desc_init(&desc);
        auto u = [&](const char* k) { return uint32_t(config.at(k).number); };
        desc.vocab_size = u("vocab_size");
        desc.d_model = u("d_model");
        desc.d_kv = u("d_kv");
        desc.d_ff = u("d_ff");
        desc.num_heads = u("num_heads");
        desc.num_layers = u("num_layers");
        desc.num_decoder_layers = u("num_decoder_layers");
        desc.relative_attention_num_buckets = u("relative_attention_num_buckets");
        desc.relative_attention_max_distance = u("relative_attention_max_distance");
        desc.layer_norm_epsilon = float(config.at("layer_norm_epsilon").number);
        desc.feed_forward_proj =
            config.at("feed_forward_proj").string == "gated-gelu" ? FT5_FFN_GATED_GELU : FT5_FFN_RELU;
        desc.tie_word_embeddings = config.at("tie_word_embeddings").boolean ? 1 : 0;
        desc.dropout_rate = dropout >= 0 ? dropout : float(config.at("dropout_rate").number);
        desc.pad_token_id = int32_t(config.at("pad_token_id").number);
        desc.eos_token_id = int32_t(config.at("eos_token_id").number);
        desc.decoder_start_token_id = int32_t(config.at("decoder_start_token_id").number);
        // transformers-5 untied saves: embed_tokens present and distinct from shared.weight
        const bool separate = weights.has("encoder.embed_tokens.weight") &&
                              weights.at("encoder.embed_tokens.weight").bytes != weights.at("shared.weight").bytes;
        desc.embedding_layout = separate ? FT5_EMBEDDING_SEPARATE : FT5_EMBEDDING_SHARED;

        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = threads;
        dd.num_ipus = tp * pp * replicas;
        EXPECT_EQ(ft5_device_create(&dd, &device), FT5_OK) << ft5_last_error();
        ft5_plan_desc plan;
        ft5_plan_desc_init(&plan);
        plan.tensor_parallel = tp;
        plan.pipeline_stages = pp;
        plan.replicas = replicas;
        plan.optimizer_location = optimizer_location;
        plan.recompute = recompute;
        plan.weights_location = weights_location;
        plan.schedule = schedule;
        plan.weights_only = int32_t(weights_only);
        plan.precision = numerics.precision;
        plan.stochastic_rounding = numerics.stochastic_rounding;
        plan.detect_overflow = numerics.detect_overflow;
        plan.fp16_mitigations = numerics.fp16_mitigations;
        plan.activation_ranges = numerics.activation_ranges;
        plan.master_weights = numerics.master_weights;
        EXPECT_EQ(ft5_session_create(device, &desc, &plan, &session), FT5_OK) << ft5_last_error();
        for (const auto& name_ : param_names()) {
            const auto w = weights.at(name_).f32();
            EXPECT_EQ(ft5_session_param_write(session, index(name_), FT5_SLOT_WEIGHT, w.data(), w.size()), FT5_OK)
                << name_ << ": " << ft5_last_error();
        }
    }
    ~SessionFixture() {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
    SessionFixture(const SessionFixture&) = delete;
    SessionFixture& operator=(const SessionFixture&) = delete;

    std::vector<std::string> param_names() const {
        uint32_t n = 0;
        EXPECT_EQ(ft5_session_param_count(session, &n), FT5_OK);
        std::vector<std::string> names;
        for (uint32_t i = 0; i < n; ++i) {
            ft5_param_info info{};
            info.struct_size = sizeof(info);
            EXPECT_EQ(ft5_session_param_info(session, i, &info), FT5_OK);
            names.emplace_back(info.name);
        }
        return names;
    }
    uint32_t index(const std::string& name) const {
        uint32_t i = 0;
        EXPECT_EQ(ft5_session_param_find(session, name.c_str(), &i), FT5_OK) << ft5_last_error();
        return i;
    }
    size_t numel(const std::string& name) const {
        ft5_param_info info{};
        info.struct_size = sizeof(info);
        EXPECT_EQ(ft5_session_param_info(session, index(name), &info), FT5_OK);
        size_t n = 1;
        for (uint32_t d = 0; d < info.rank; ++d) n *= size_t(info.shape[d]);
        return n;
    }
    std::vector<float> read(const std::string& name, ft5_param_slot slot) const {
        std::vector<float> out(numel(name));
        EXPECT_EQ(ft5_session_param_read(session, index(name), slot, out.data(), out.size()), FT5_OK)
            << ft5_last_error();
        return out;
    }
    int64_t vocab() const { return desc.vocab_size; }
};

// One IPU's memory report (arena used/peak bytes, live tensors).
inline ft5_memory_report memory_report(ft5_device* device, uint32_t ipu) {
    ft5_memory_report m{};
    m.struct_size = sizeof(m);
    EXPECT_EQ(ft5_device_memory_report(device, ipu, &m), FT5_OK) << ft5_last_error();
    return m;
}

// A batch whose arrays live in the struct.
struct OwnedBatch {
    uint32_t batch = 0, src_len = 0, tgt_len = 0;
    std::vector<int32_t> input_ids, attention_mask, decoder_input_ids, labels;

    ft5_batch view(bool training = false) const {
        ft5_batch b;
        ft5_batch_init(&b);
        b.batch = batch;
        b.src_len = src_len;
        b.tgt_len = tgt_len;
        b.input_ids = input_ids.data();
        b.attention_mask = attention_mask.empty() ? nullptr : attention_mask.data();
        b.decoder_input_ids = decoder_input_ids.data();
        b.labels = labels.empty() ? nullptr : labels.data();
        b.training = training ? 1 : 0;
        return b;
    }
    // Rows [r0, r1) as their own batch.
    OwnedBatch rows(uint32_t r0, uint32_t r1) const {
        OwnedBatch o;
        o.batch = r1 - r0;
        o.src_len = src_len;
        o.tgt_len = tgt_len;
        auto slice = [&](const std::vector<int32_t>& v, uint32_t len) {
            return v.empty() ? v : std::vector<int32_t>(v.begin() + r0 * len, v.begin() + r1 * len);
        };
        o.input_ids = slice(input_ids, src_len);
        o.attention_mask = slice(attention_mask, src_len);
        o.decoder_input_ids = slice(decoder_input_ids, tgt_len);
        o.labels = slice(labels, tgt_len);
        return o;
    }
};

// decoder_input_ids = [start] + labels[:-1] with -100 -> pad (Hugging Face shift_right).
inline std::vector<int32_t> shift_right(const std::vector<int32_t>& labels, uint32_t batch, uint32_t len,
                                        int32_t start, int32_t pad) {
    std::vector<int32_t> out(labels.size());
    for (uint32_t b = 0; b < batch; ++b) {
        out[b * len] = start;
        for (uint32_t t = 1; t < len; ++t) {
            const int32_t l = labels[b * len + t - 1];
            out[b * len + t] = l == -100 ? pad : l;
        }
    }
    return out;
}

inline OwnedBatch reference_batch(const SafetensorsFile& ref, const std::string& prefix = "") {
    OwnedBatch b;
    const auto& ids = ref.at(prefix + "input_ids");
    b.batch = uint32_t(ids.shape[0]);
    b.src_len = uint32_t(ids.shape[1]);
    b.input_ids = ids.i32();
    b.attention_mask = ref.at(prefix + "attention_mask").i32();
    b.labels = ref.at(prefix + "labels").i32();
    b.tgt_len = uint32_t(ref.at(prefix + "labels").shape[1]);
    if (ref.has(prefix + "decoder_input_ids")) {
        b.decoder_input_ids = ref.at(prefix + "decoder_input_ids").i32();
    } else {
        b.decoder_input_ids = shift_right(b.labels, b.batch, b.tgt_len, 0, 0);
    }
    return b;
}


// An AdamW step with the library's defaults for everything but these fields.
inline ft5_optimizer_step adamw(uint64_t step, float lr, float wd = 0.0f, int32_t decay_all = 0) {
    ft5_optimizer_step s;
    ft5_optimizer_step_init(&s);
    s.step = step;
    s.learning_rate = lr;
    s.weight_decay = wd;
    s.decay_all_parameters = decay_all;
    return s;
}

// An output struct for ft5_session_optimizer_step, sized as the ABI requires.
inline ft5_step_result step_result() {
    ft5_step_result r{};
    r.struct_size = sizeof(r);
    return r;
}

// One step s of the fixture's 12-step AdamW trajectory: batch step{s}.* of reference_adamw_trajectory.safetensors,
// torch AdamW hyperparameters from its json, weight decay on every parameter. Returns the loss and the step result.
struct TrajectoryStep {
    float loss = 0;
    ft5_step_result result{};
};

template <typename Before, typename After>
TrajectoryStep trajectory_step(SessionFixture& fx, const SafetensorsFile& ref, const JsonValue& meta, int s,
                               Before&& before_update, After&& after_update) {
    const OwnedBatch b = reference_batch(ref, "step" + std::to_string(s) + ".");
    const ft5_batch view = b.view(true);
    TrajectoryStep out;
    EXPECT_EQ(ft5_session_zero_gradients(fx.session), FT5_OK) << ft5_last_error();
    EXPECT_EQ(ft5_session_forward_backward(fx.session, &view, 1.0f, &out.loss), FT5_OK) << ft5_last_error();
    const auto state = before_update(fx);
    ft5_optimizer_step st =
        adamw(uint64_t(s + 1), float(meta.at("lr").number), float(meta.at("weight_decay").number), 1);
    st.beta1 = float(meta.at("betas").array[0].number);
    st.beta2 = float(meta.at("betas").array[1].number);
    st.eps = float(meta.at("eps").number);
    out.result = step_result();
    EXPECT_EQ(ft5_session_optimizer_step(fx.session, &st, &out.result), FT5_OK) << ft5_last_error();
    after_update(fx, state);
    return out;
}

inline TrajectoryStep trajectory_step(SessionFixture& fx, const SafetensorsFile& ref, const JsonValue& meta, int s) {
    return trajectory_step(
        fx, ref, meta, s, [](SessionFixture&) { return 0; }, [](SessionFixture&, int) {});
}

// The fixture's 12-step AdamW trajectory (reference_adamw_trajectory.*: batches and torch.optim.AdamW settings)
// replayed on a session, and its errors against the same steps replayed in float64
// (reference_adamw_trajectory_f64.safetensors, made by fixtures/make/make_f64_trajectory.py): the worst relative
// error of a step's loss and of its gradient norm, and the worst rel L2 of a parameter's final weights.
struct TrajectoryErrors {
    double loss = 0, grad_norm = 0, weights = 0;
    std::string worst_tensor;
    int steps = 0;
};

// The 12 AdamW steps (lr 1e-3, eps 1e-8) amplify float32 rounding: Adam moves every weight by about lr whatever the
// size of its gradient, so rounding in a near-zero gradient becomes a full step. How much depends on the model and
// on which OpenBLAS kernels ran, so each bound is a multiple of that trajectory's own float32 noise floor: the
// stored float32 reference's distance from float64 for the same measure (trajectory_floor below).
//
// Measured (this runtime, 1 IPU and every tp 1/2/4 x pp 1/2 x dp 1/2 placement; torch 1.13 float32 replays by
// make_f64_trajectory.py --measure), errors against float64 under OPENBLAS_CORETYPE = Nehalem, Sandybridge,
// Haswell, Zen, SkylakeX, Cooperlake and the host default (Xeon with AVX-512):
//                       loss                 grad norm            final weights (worst tensor)
//   flan-t5-tiny floor  1.10e-4              1.22e-4              7.68e-5 (decoder.block.1 wi_1)
//     this runtime      3.4e-5 .. 1.29e-4    3.6e-5 .. 1.42e-4    2.4e-5 .. 9.0e-5      worst / floor 1.17
//     torch float32     4.3e-5 .. 1.25e-4    4.9e-5 .. 1.37e-4    3.1e-5 .. 8.7e-5      worst / floor 1.13
//   hf-t5-tiny floor    1.65e-6              1.61e-6              8.72e-7 (decoder.block.0 EncDecAttention.k)
//     this runtime      9.3e-7 .. 2.4e-6     7.5e-7 .. 4.5e-6     9.8e-7 .. 2.2e-6      worst / floor 2.81
//     torch float32     1.1e-6 .. 2.8e-6     9.9e-7 .. 3.9e-6     6.7e-7 .. 1.4e-6      worst / floor 2.41
// The worst ratio to the floor is 2.81; the bound is 8 x the floor, a margin of 2.8 over every measurement.
// What it still catches: a wrong term in one layer's gradient (10 % of its RMS) puts that layer's final weights at
// 4.9e-2, 7000 x hf-t5-tiny's bound (SessionTrajectory.AWrongGradientInOneLayerFailsTheBound); weight decay left
// out (1.2e-4 relative over 12 steps) exceeds that bound (7.0e-6) 17 times. Adam is blind to a gradient's scale,
// so a gradient off by a constant factor shows in the gradient norm and in the forward/backward gradient test.
constexpr double kTrajectoryFloorMultiple = 8.0;

struct TrajectoryFloor {
    double loss = 0, grad_norm = 0, weights = 0;
};

// The stored float32 trajectory against its float64 replay (both from the fixture files).
inline TrajectoryFloor trajectory_floor(const std::string& model) {
    const SafetensorsFile f32(fixture_path(model, "reference_adamw_trajectory.safetensors"));
    const SafetensorsFile f64(fixture_path(model, "reference_adamw_trajectory_f64.safetensors"));
    const JsonValue meta = parse_json(read_text(fixture_path(model, "reference_adamw_trajectory.json")));
    const std::vector<double> losses = f64.at("losses").f64(), norms = f64.at("grad_norms").f64();
    TrajectoryFloor floor;
    for (size_t s = 0; s < losses.size(); ++s) {
        floor.loss = std::max(floor.loss, std::abs(meta.at("losses").array.at(s).number - losses[s]) / losses[s]);
        floor.grad_norm =
            std::max(floor.grad_norm, std::abs(meta.at("grad_norms").array.at(s).number - norms[s]) / norms[s]);
    }
    for (const auto& [name, t] : f32.all())
        if (name.rfind("final.", 0) == 0) floor.weights = std::max(floor.weights, rel_err(t.f64(), f64.at(name).f64()));
    return floor;
}

// Replays the trajectory on fx. before_update(fx), when given, runs between the backward pass and the update of each
// step, and after_update(fx, what before_update returned) after it (to show that a wrong update fails the bounds).
template <typename Before, typename After>
TrajectoryErrors replay_trajectory(SessionFixture& fx, Before&& before_update, After&& after_update) {
    const SafetensorsFile batches(fixture_path(fx.model, "reference_adamw_trajectory.safetensors"));
    const SafetensorsFile f64(fixture_path(fx.model, "reference_adamw_trajectory_f64.safetensors"));
    const JsonValue meta = parse_json(read_text(fixture_path(fx.model, "reference_adamw_trajectory.json")));
    const std::vector<double> losses = f64.at("losses").f64(), norms = f64.at("grad_norms").f64();
    TrajectoryErrors e;
    e.steps = int(meta.at("steps").number);
    EXPECT_EQ(size_t(e.steps), losses.size());
    for (int s = 0; s < e.steps && size_t(s) < losses.size(); ++s) {
        const TrajectoryStep step = trajectory_step(fx, batches, meta, s, before_update, after_update);
        EXPECT_EQ(step.result.skipped_nonfinite, 0) << "step " << s;
        e.loss = std::max(e.loss, std::abs(step.loss - losses[size_t(s)]) / losses[size_t(s)]);
        e.grad_norm = std::max(e.grad_norm, std::abs(step.result.grad_norm - norms[size_t(s)]) / norms[size_t(s)]);
    }
    for (const auto& name : fx.param_names()) {
        const double err = rel_err(fx.read(name, FT5_SLOT_WEIGHT), f64.at("final." + name).f64());
        if (err >= e.weights) {
            e.weights = err;
            e.worst_tensor = name;
        }
    }
    return e;
}

inline TrajectoryErrors replay_trajectory(SessionFixture& fx) {
    return replay_trajectory(
        fx, [](SessionFixture&) { return 0; }, [](SessionFixture&, int) {});
}

// Expects every error of e within kTrajectoryFloorMultiple times the fixture's float32 floor; prints both.
inline void expect_trajectory_within_bounds(const TrajectoryErrors& e, const std::string& model,
                                            const std::string& label) {
    const TrajectoryFloor f = trajectory_floor(model);
    const double k = kTrajectoryFloorMultiple;
    std::printf("[%s] %d steps against float64: worst loss rel err %.3e (bound %.2e), grad norm %.3e (%.2e), final "
                "weights %.3e (%.2e, %s)\n",
                label.c_str(), e.steps, e.loss, k * f.loss, e.grad_norm, k * f.grad_norm, e.weights, k * f.weights,
                e.worst_tensor.c_str());
    EXPECT_LE(e.loss, k * f.loss);
    EXPECT_LE(e.grad_norm, k * f.grad_norm);
    EXPECT_LE(e.weights, k * f.weights) << e.worst_tensor;
}

}  // namespace ft5::test
