// fp16 sessions (plan->precision FT5_DTYPE_F16), as Flan-T5 ran on IPUs, against the float64 references and the
// same session in fp32.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "parity_bounds.h"
#include "t5_session_fixture.h"

using namespace ft5::test;

namespace {

const Numerics kHalf{FT5_DTYPE_F16, 0};
const Numerics kHalfStochastic{FT5_DTYPE_F16, 1};

std::unique_ptr<SessionFixture> session(const std::string& model, const Numerics& numerics, float dropout = -1.0f) {
    return std::make_unique<SessionFixture>(model, dropout, 2, 1, 1, 1, FT5_MEMORY_ON_CHIP, 0, FT5_MEMORY_ON_CHIP,
                                            FT5_SCHEDULE_GPIPE, 0, numerics);
}

struct Forward {
    std::vector<float> logits, encoder;
    float loss = 0;
};

Forward forward(SessionFixture& fx, const OwnedBatch& b) {
    const ft5_batch view = b.view();
    Forward f;
    f.logits.resize(size_t(b.batch) * b.tgt_len * size_t(fx.vocab()));
    f.encoder.resize(size_t(b.batch) * b.src_len * fx.desc.d_model);
    EXPECT_EQ(ft5_session_forward(fx.session, &view, f.logits.data(), f.logits.size(), f.encoder.data(),
                                  f.encoder.size(), &f.loss),
              FT5_OK)
        << ft5_last_error();
    return f;
}

ft5_optimizer_step adam_step(uint64_t step, float lr) {
    ft5_optimizer_step s;
    ft5_optimizer_step_init(&s);
    s.step = step;
    s.learning_rate = lr;
    s.beta1 = 0.9f;
    s.beta2 = 0.999f;
    s.eps = 1e-6f;
    s.grad_scale = 1.0f;
    return s;
}

void train_step(SessionFixture& fx, const OwnedBatch& b, uint64_t step, float lr) {
    const ft5_batch view = b.view(true);
    float loss = 0;
    ASSERT_EQ(ft5_session_zero_gradients(fx.session), FT5_OK) << ft5_last_error();
    ASSERT_EQ(ft5_session_forward_backward(fx.session, &view, 1.0f, &loss), FT5_OK) << ft5_last_error();
    const ft5_optimizer_step s = adam_step(step, lr);
    ft5_step_result r{};
    r.struct_size = sizeof(r);
    ASSERT_EQ(ft5_session_optimizer_step(fx.session, &s, &r), FT5_OK) << ft5_last_error();
    ASSERT_EQ(r.skipped_nonfinite, 0);
}

std::size_t argmax(const float* row, std::size_t n) {
    return std::size_t(std::max_element(row, row + n) - row);
}

}  // namespace

class HalfPrecision : public ::testing::TestWithParam<const char*> {};

TEST_P(HalfPrecision, ForwardStaysWithinHalfRoundoffOfTheReference) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const auto fx = session(GetParam(), kHalf);
    const Forward f = forward(*fx, b);
    const double logits_err = rel_err(f.logits, ref.at("logits_f64").f64());
    const double enc_err = rel_err(f.encoder, ref.at("encoder_last_hidden_state_f64").f64());
    const double ref_loss = ref.at("loss_f64").f64()[0];
    const double loss_err = std::abs(f.loss - ref_loss) / std::abs(ref_loss);
    std::printf("[%s fp16] logits rel err %.3e, encoder hidden %.3e, loss %.3e\n", GetParam(), logits_err, enc_err,
                loss_err);
    EXPECT_LE(logits_err, kHalfLogitsBound);
    EXPECT_LE(enc_err, kHalfEncoderBound);
    EXPECT_LE(loss_err, kHalfLossBound);
}

TEST_P(HalfPrecision, GreedyTokensAreTheFloat32SessionsOrTiesWithinHalfRoundoff) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const auto full = session(GetParam(), {});
    const auto half = session(GetParam(), kHalf);
    const Forward f32 = forward(*full, b), f16 = forward(*half, b);
    const std::size_t v = std::size_t(full->vocab()), rows = f32.logits.size() / v;
    std::size_t differing = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t a = argmax(&f32.logits[r * v], v), h = argmax(&f16.logits[r * v], v);
        if (a == h) continue;
        ++differing;
        // a different token is only allowed where fp32 itself ranks the two within fp16's rounding of the logit
        const float gap = f32.logits[r * v + a] - f32.logits[r * v + h];
        EXPECT_LE(gap, kHalfTieGap * std::abs(f32.logits[r * v + a])) << "row " << r;
    }
    std::printf("[%s fp16] %zu of %zu positions choose another token than fp32\n", GetParam(), differing, rows);
}

TEST_P(HalfPrecision, EveryGradientStaysWithinHalfRoundoffOfTheReference) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const auto fx = session(GetParam(), kHalf);
    const ft5_batch view = b.view();
    float loss = 0;
    ASSERT_EQ(ft5_session_forward_backward(fx->session, &view, 1.0f, &loss), FT5_OK) << ft5_last_error();
    double worst = 0;
    std::string worst_name;
    for (const auto& name : fx->param_names()) {
        const double e = rel_err(fx->read(name, FT5_SLOT_GRADIENT), ref.at("grad." + name).f64());
        EXPECT_LE(e, kHalfGradientBound) << name;
        if (e > worst) {
            worst = e;
            worst_name = name;
        }
    }
    std::printf("[%s fp16] worst gradient rel err %.3e (%s)\n", GetParam(), worst, worst_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HalfPrecision, ::testing::Values("flan-t5-tiny", "hf-t5-tiny"),
                         [](const auto& param_info) {
                             std::string n = param_info.param;
                             for (auto& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

TEST(HalfPrecisionState, WeightsReadBackAsTheHalvesTheyRoundedTo) {
    const auto fx = session("flan-t5-tiny", kHalf);
    const std::string name = "encoder.block.0.layer.0.SelfAttention.q.weight";
    const auto w = fx->read(name, FT5_SLOT_WEIGHT);
    std::vector<float> values(w.size());
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = 1.0f + float(i) * 1e-4f;  // 1 + i/10^4: not halves
    ASSERT_EQ(ft5_session_param_write(fx->session, fx->index(name), FT5_SLOT_WEIGHT, values.data(), values.size()),
              FT5_OK)
        << ft5_last_error();
    const auto back = fx->read(name, FT5_SLOT_WEIGHT);
    for (std::size_t i = 0; i < values.size(); ++i) {
        // within half an ulp of fp16 (2^-11 relative), and a half: writing it again changes nothing
        ASSERT_LE(std::abs(back[i] - values[i]), std::abs(values[i]) * 0x1p-11f) << i;
    }
    ASSERT_EQ(ft5_session_param_write(fx->session, fx->index(name), FT5_SLOT_WEIGHT, back.data(), back.size()),
              FT5_OK);
    EXPECT_EQ(fx->read(name, FT5_SLOT_WEIGHT), back);
    // the moments stay fp32: a value no half holds comes back exactly
    ASSERT_EQ(ft5_session_param_write(fx->session, fx->index(name), FT5_SLOT_ADAM_V, values.data(), values.size()),
              FT5_OK);
    EXPECT_EQ(fx->read(name, FT5_SLOT_ADAM_V), values);
}

TEST(HalfPrecisionState, AWeightPastTheHalfRangeIsRefusedNamingTheTensor) {
    const auto fx = session("flan-t5-tiny", kHalf);
    const std::string name = "decoder.block.1.layer.2.DenseReluDense.wo.weight";
    auto w = fx->read(name, FT5_SLOT_WEIGHT);
    const auto before = w;
    w[5] = 70000.0f;
    EXPECT_EQ(ft5_session_param_write(fx->session, fx->index(name), FT5_SLOT_WEIGHT, w.data(), w.size()),
              FT5_ERR_INVALID_ARGUMENT);
    const std::string error = ft5_last_error();
    EXPECT_NE(error.find(name), std::string::npos) << error;
    EXPECT_NE(error.find("65504"), std::string::npos) << error;
    EXPECT_EQ(fx->read(name, FT5_SLOT_WEIGHT), before) << "a refused write changed the weight";
}

namespace {

// What creating a session of the default model with `plan` fails with (FT5_ERR_INVALID_ARGUMENT) says.
std::string refusal(const ft5_plan_desc& plan) {
    ft5_device* device = nullptr;
    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    EXPECT_EQ(ft5_device_create(&dd, &device), FT5_OK);
    ft5_model_desc m;
    ft5_model_desc_init(&m);
    ft5_session* s = nullptr;
    EXPECT_EQ(ft5_session_create(device, &m, &plan, &s), FT5_ERR_INVALID_ARGUMENT);
    std::string error = ft5_last_error();
    ft5_session_destroy(s);
    ft5_device_destroy(device);
    return error;
}

}  // namespace

TEST(HalfPrecisionState, StochasticRoundingIsRefusedInFloat32) {
    ft5_plan_desc plan;
    ft5_plan_desc_init(&plan);
    plan.stochastic_rounding = 1;
    EXPECT_NE(refusal(plan).find("stochastic_rounding"), std::string::npos);
    plan.stochastic_rounding = 0;
    plan.precision = FT5_DTYPE_BF16;
    EXPECT_NE(refusal(plan).find("plan->precision"), std::string::npos);
}

// An update far below half an ulp of its weight: rounding to nearest loses it, stochastic rounding moves the
// weight by one ulp with the update's share of it, so the mean change keeps the update.
TEST(HalfPrecisionTraining, StochasticRoundingKeepsUpdatesRoundingToNearestLoses) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const std::string name = "encoder.block.0.layer.1.DenseReluDense.wo.weight";
    // AdamW's first step moves every weight by lr (m / sqrt(v) = sign(g)); lr 2^-16 against weights of about
    // 2^-4 .. 2^-2 is 1/64 .. 1/16 of an ulp
    const float lr = 0x1p-16f;
    std::vector<float> before, nearest, stochastic;
    {
        const auto fx = session("flan-t5-tiny", kHalf);
        before = fx->read(name, FT5_SLOT_WEIGHT);
        train_step(*fx, b, 1, lr);
        nearest = fx->read(name, FT5_SLOT_WEIGHT);
    }
    {
        const auto fx = session("flan-t5-tiny", kHalfStochastic);
        train_step(*fx, b, 1, lr);
        stochastic = fx->read(name, FT5_SLOT_WEIGHT);
    }
    // weights of |w| >= 2^-4 have ulps of 2^-14 or more: the update is at most a quarter of one
    std::size_t big = 0, nearest_moved = 0, stochastic_moved = 0;
    double mean_change = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
        if (std::abs(before[i]) < 0x1p-4f) continue;
        ++big;
        nearest_moved += nearest[i] != before[i];
        stochastic_moved += stochastic[i] != before[i];
        mean_change += std::abs(double(stochastic[i]) - double(before[i]));
    }
    ASSERT_GT(big, before.size() / 10);
    mean_change /= double(big);
    std::printf("of %zu weights with |w| >= 2^-4: %zu moved rounding to nearest, %zu stochastically; their mean "
                "|change| %.3e against lr %.3e\n",
                big, nearest_moved, stochastic_moved, mean_change, double(lr));
    EXPECT_EQ(nearest_moved, 0u);
    // each moves one ulp with probability lr / ulp, so the expected change is lr; its standard error here is
    // about 5 % of lr (ulp sqrt(p) over sqrt(weights)), the bound 5 of them
    EXPECT_NEAR(mean_change, double(lr), 0.25 * double(lr));
}

namespace {

// Four steps straight against two, a checkpoint (the weights slot, exact in fp32, and the fp32 moments) written into a
// new session, and two more: the same weights bit for bit.
void expect_resume_bit_for_bit(const Numerics& numerics) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const float lr = 1e-3f;
    const auto straight = session("flan-t5-tiny", numerics);
    for (uint64_t step = 1; step <= 4; ++step) train_step(*straight, b, step, lr);
    const auto first = session("flan-t5-tiny", numerics);
    for (uint64_t step = 1; step <= 2; ++step) train_step(*first, b, step, lr);
    const auto resumed = session("flan-t5-tiny", numerics);
    for (const auto& name : first->param_names())
        for (const ft5_param_slot slot : {FT5_SLOT_WEIGHT, FT5_SLOT_ADAM_M, FT5_SLOT_ADAM_V}) {
            const auto values = first->read(name, slot);
            ASSERT_EQ(ft5_session_param_write(resumed->session, resumed->index(name), slot, values.data(),
                                              values.size()),
                      FT5_OK);
        }
    for (uint64_t step = 3; step <= 4; ++step) train_step(*resumed, b, step, lr);
    for (const auto& name : straight->param_names())
        ASSERT_EQ(resumed->read(name, FT5_SLOT_WEIGHT), straight->read(name, FT5_SLOT_WEIGHT)) << name;
}

}  // namespace

TEST(HalfPrecisionTraining, AResumedRunRoundsAsTheStraightOneBitForBit) { expect_resume_bit_for_bit(kHalfStochastic); }

namespace {

const Numerics kHalfDetecting{FT5_DTYPE_F16, 0, 1};

OwnedBatch overflow_batch(const SafetensorsFile& ref) {
    OwnedBatch b;
    const auto& ids = ref.at("input_ids");
    b.batch = uint32_t(ids.shape[0]);
    b.src_len = uint32_t(ids.shape[1]);
    b.tgt_len = uint32_t(ref.at("labels").shape[1]);
    b.input_ids = ids.i32();
    b.attention_mask = ref.at("attention_mask").i32();
    b.labels = ref.at("labels").i32();
    b.decoder_input_ids = ref.at("decoder_input_ids").i32();
    return b;
}

}  // namespace

TEST(HalfPrecisionOverflow, TheDetectorNamesTheFeedForwardOutputThatPassesTheHalfRange) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny-overflow", "reference_forward.safetensors"));
    const OwnedBatch b = overflow_batch(ref);
    const auto fx = session("flan-t5-tiny-overflow", kHalfDetecting);
    const ft5_batch view = b.view();
    std::vector<float> logits(size_t(b.batch) * b.tgt_len * size_t(fx->vocab()));
    EXPECT_EQ(ft5_session_forward(fx->session, &view, logits.data(), logits.size(), nullptr, 0, nullptr),
              FT5_ERR_FLOATING_POINT);
    const std::string error = ft5_last_error();
    std::printf("%s\n", error.c_str());
    EXPECT_NE(error.find("[encoder.block.1.layer.1.DenseReluDense.wo]"), std::string::npos) << error;
    EXPECT_NE(error.find("overflow"), std::string::npos) << error;
    EXPECT_NE(error.find("output half"), std::string::npos) << error;
    EXPECT_NE(error.find("input 0 half"), std::string::npos) << error;
}

TEST(HalfPrecisionOverflow, TheDetectorStaysQuietOnAModelThatFits) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const auto fx = session("flan-t5-tiny", kHalfDetecting);
    const Forward f = forward(*fx, b);
    EXPECT_LE(rel_err(f.logits, ref.at("logits_f64").f64()), kHalfLogitsBound);
    // and its training step, whose gradients are fp16 too
    train_step(*fx, b, 1, 1e-3f);
}

TEST(HalfPrecisionOverflow, WithoutTheDetectorTheOverflowSaturatesAndTheRunGoesOn) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny-overflow", "reference_forward.safetensors"));
    const OwnedBatch b = overflow_batch(ref);
    const auto fx = session("flan-t5-tiny-overflow", kHalf);
    const Forward f = forward(*fx, b);
    const double e = rel_err(f.logits, ref.at("logits_f64").f64());
    std::printf("[flan-t5-tiny-overflow fp16, no mitigation] logits rel err %.3e\n", e);
    for (float v : f.logits) ASSERT_TRUE(std::isfinite(v));
}

namespace {

struct Mitigation {
    const char* name;
    uint32_t bits;
};

// Every mitigation alone, then sets of them.
const Mitigation kMitigations[] = {
    {"none", 0},
    {"wo fp32", FT5_FP16_WO_FP32},
    {"wo / 8", FT5_FP16_WO_SCALED},
    {"residual fp32", FT5_FP16_RESIDUAL_FP32},
    {"clamp", FT5_FP16_CLAMP},
    {"mask x 0.75", FT5_FP16_MASK_SCALED},
    {"gelu limited", FT5_FP16_GELU_LIMITED},
    {"wo fp32 + residual fp32", FT5_FP16_WO_FP32 | FT5_FP16_RESIDUAL_FP32},
    {"wo / 8 + residual fp32", FT5_FP16_WO_SCALED | FT5_FP16_RESIDUAL_FP32},
    {"clamp + mask + gelu", FT5_FP16_CLAMP | FT5_FP16_MASK_SCALED | FT5_FP16_GELU_LIMITED},
    {"wo / 8 + clamp", FT5_FP16_WO_SCALED | FT5_FP16_CLAMP},
    {"fp16-safe", FT5_FP16_WO_FP32 | FT5_FP16_RESIDUAL_FP32 | FT5_FP16_MASK_SCALED},
    {"all but wo / 8", 63u & ~uint32_t(FT5_FP16_WO_SCALED)},
};

std::unique_ptr<SessionFixture> serving(const std::string& model, uint32_t mitigations, int32_t detect) {
    return std::make_unique<SessionFixture>(model, -1.0f, 2, 1, 1, 1, FT5_MEMORY_ON_CHIP, 0, FT5_MEMORY_ON_CHIP,
                                            FT5_SCHEDULE_GPIPE, 1,
                                            Numerics{FT5_DTYPE_F16, 0, detect, mitigations});
}

}  // namespace

// The set the measurements below support (configs/fp16-safe.yaml): wo and the residual stream in fp32, the scaled
// mask.
constexpr uint32_t kHalfSafe = FT5_FP16_WO_FP32 | FT5_FP16_RESIDUAL_FP32 | FT5_FP16_MASK_SCALED;

// Measured (printed): on flan-t5-tiny-overflow each mitigation alone still overflows (wo fp32 and wo / 8 move the
// overflow to the residual add, the others leave it at wo, clamping saturates) and only a fp32 residual stream with
// wo in fp32 or / 8 fits, within 2 u of the float64 logits; on flan-t5-tiny, which fits, none of them moves the
// logits past the fp16 bound.
TEST(HalfPrecisionMitigations, EachIsMeasuredAndTheSafeSetKeepsTheOverflowingCheckpointWithinBound) {
    for (const char* model : {"flan-t5-tiny-overflow", "flan-t5-tiny"}) {
        const bool overflows = std::string(model) == "flan-t5-tiny-overflow";
        const SafetensorsFile ref(
            fixture_path(model, overflows ? "reference_forward.safetensors" : "reference_forward_backward.safetensors"));
        const OwnedBatch b = overflow_batch(ref);
        for (const Mitigation& m : kMitigations) {
            const auto detecting = serving(model, m.bits, 1);
            const ft5_batch view = b.view();
            std::vector<float> logits(size_t(b.batch) * b.tgt_len * size_t(detecting->vocab()));
            const ft5_status status =
                ft5_session_forward(detecting->session, &view, logits.data(), logits.size(), nullptr, 0, nullptr);
            std::string where = "no overflow";
            if (status != FT5_OK) {
                const std::string error = ft5_last_error();
                const std::size_t at = error.find("in op '");
                where = error.substr(at, error.find("' on replica") - at + 1);
            }
            const auto plain = serving(model, m.bits, 0);
            const double e = rel_err(forward(*plain, b).logits, ref.at("logits_f64").f64());
            std::printf("[%s] %-24s logits rel err %.3e  %s\n", model, m.name, e, where.c_str());
            if (!overflows) {
                EXPECT_EQ(status, FT5_OK) << m.name;
                EXPECT_LE(e, kHalfLogitsBound) << m.name;
            } else if (m.bits == 0) {
                EXPECT_NE(where.find("[encoder.block.1.layer.1.DenseReluDense.wo]"), std::string::npos) << where;
            } else if (m.bits == kHalfSafe) {
                EXPECT_EQ(status, FT5_OK) << where;
                EXPECT_LE(e, kHalfLogitsBound);
            }
        }
    }
}

// A relative position bias of -40 on the masked positions: fp16's lowest (-65504) plus it rounds past the range, and
// the masks' minimum x 0.75 (-49128) keeps the sum finite. (gelu_limited is not measured here: the emulated SDK
// computes a HALF gelu in FLOAT, so x^3 cannot overflow in it as it may on an IPU.)
TEST(HalfPrecisionMitigations, TheScaledMaskKeepsAVeryNegativePositionBiasFinite) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const std::string table = "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    std::vector<std::string> where;
    for (const uint32_t bits : {0u, uint32_t(FT5_FP16_MASK_SCALED)}) {
        const auto fx = serving("flan-t5-tiny", bits, 1);
        std::vector<float> bias(fx->numel(table), -40.0f);
        ASSERT_EQ(ft5_session_param_write(fx->session, fx->index(table), FT5_SLOT_WEIGHT, bias.data(), bias.size()), FT5_OK);
        const ft5_batch view = b.view();
        std::vector<float> logits(size_t(b.batch) * b.tgt_len * size_t(fx->vocab()));
        const ft5_status status = ft5_session_forward(fx->session, &view, logits.data(), logits.size(), nullptr, 0, nullptr);
        where.push_back(status == FT5_OK ? "no overflow" : ft5_last_error());
        std::printf("[decoder position bias -40] %s: %s\n", bits ? "mask x 0.75" : "none", where.back().substr(0, 120).c_str());
    }
    EXPECT_NE(where[0].find("decoder/self_bias"), std::string::npos) << where[0];
    EXPECT_EQ(where[1], "no overflow");
}

TEST(HalfPrecisionMitigations, ATrainingSessionIsRefusedThemNamingTheField) {
    ft5_plan_desc plan;
    ft5_plan_desc_init(&plan);
    plan.precision = FT5_DTYPE_F16;
    plan.fp16_mitigations = kHalfSafe;
    EXPECT_NE(refusal(plan).find("plan->fp16_mitigations"), std::string::npos);
}

namespace {

std::vector<std::pair<std::string, float>> ranges_of(SessionFixture& fx) {
    uint32_t n = 0;
    EXPECT_EQ(ft5_session_activation_ranges(fx.session, nullptr, 0, &n), FT5_OK) << ft5_last_error();
    std::vector<float> values(n);
    EXPECT_EQ(ft5_session_activation_ranges(fx.session, values.data(), n, &n), FT5_OK);
    std::vector<std::pair<std::string, float>> out;
    for (uint32_t i = 0; i < n; ++i) {
        const char* name = nullptr;
        EXPECT_EQ(ft5_session_activation_site(fx.session, i, &name), FT5_OK) << ft5_last_error();
        out.emplace_back(name, values[i]);
    }
    return out;
}

}  // namespace

// fp32 shows how far past 65504 a module would go; fp16 shows it saturated at the limit.
TEST(ActivationRanges, EveryModuleIsMeasuredAndTheOverflowingFeedForwardStandsOut) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny-overflow", "reference_forward.safetensors"));
    const OwnedBatch b = overflow_batch(ref);
    const double expected = ref.at("wo_output_max_f64").f64()[0];
    const std::string wo = "encoder.block.1.layer.1.DenseReluDense.wo";
    for (const ft5_dtype precision : {FT5_DTYPE_F32, FT5_DTYPE_F16}) {
        const auto fx = std::make_unique<SessionFixture>("flan-t5-tiny-overflow", -1.0f, 2, 1, 1, 1, FT5_MEMORY_ON_CHIP, 0,
                                                         FT5_MEMORY_ON_CHIP, FT5_SCHEDULE_GPIPE, 1,
                                                         Numerics{precision, 0, 0, 0, 1});
        forward(*fx, b);
        const auto ranges = ranges_of(*fx);
        // per stack the embeddings and the final norm; per encoder block self-attention, wi_0, wi_1, wo and the two
        // residuals; a decoder block adds cross-attention and its residual
        EXPECT_EQ(ranges.size(), 2u * 2 + 2 * 6 + 2 * 8);
        const auto peak = std::max_element(ranges.begin(), ranges.end(),
                                           [](const auto& a, const auto& c) { return a.second < c.second; });
        std::printf("[%s] %zu modules; largest |activation| %s %.1f\n", precision == FT5_DTYPE_F16 ? "fp16" : "fp32",
                    ranges.size(), peak->first.c_str(), double(peak->second));
        const auto at = std::find_if(ranges.begin(), ranges.end(), [&](const auto& r) { return r.first == wo; });
        ASSERT_NE(at, ranges.end());
        if (precision == FT5_DTYPE_F32) {
            EXPECT_EQ(peak->first.rfind("encoder.block.1.layer.1", 0), 0u) << "wo or the residual it feeds: " << peak->first;
            EXPECT_NEAR(at->second, expected, 1e-5 * expected);
        } else {
            EXPECT_EQ(at->second, 65504.0f) << "an fp16 overflow saturates";
        }
    }
}

TEST(ActivationRanges, AModelThatFitsStaysFarBelowTheHalfRange) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const auto fx = std::make_unique<SessionFixture>("flan-t5-tiny", -1.0f, 2, 2, 2, 1, FT5_MEMORY_ON_CHIP, 0,
                                                     FT5_MEMORY_ON_CHIP, FT5_SCHEDULE_GPIPE, 1,
                                                     Numerics{FT5_DTYPE_F16, 0, 0, 0, 1});
    forward(*fx, reference_batch(ref));
    const auto ranges = ranges_of(*fx);
    ASSERT_FALSE(ranges.empty());
    for (const auto& [site, value] : ranges) {
        EXPECT_GT(value, 0.0f) << site;
        EXPECT_LT(value, 1000.0f) << site;
    }
}

namespace {

const Numerics kHalfMaster{FT5_DTYPE_F16, 0, 0, 0, 0, 1};

// x rounded to the nearest normal half (ties to even): what the device rounds the master into.
float nearest_half(float x) {
    int k = 0;
    std::frexp(x, &k);  // |x| in [2^(k-1), 2^k)
    const float ulp = std::ldexp(1.0f, k - 1 - 10);
    return std::nearbyint(x / ulp) * ulp;
}

}  // namespace

// Updates of a quarter ulp: rounding each into the fp16 weight loses every one; a master copy keeps their sum and
// the weight moves once the sum passes half an ulp.
TEST(HalfPrecisionMasterWeights, AFloat32MasterCopyKeepsTheUpdatesRoundingToNearestLoses) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const std::string name = "encoder.block.0.layer.1.DenseReluDense.wo.weight";
    const float lr = 0x1p-16f;
    const int steps = 8;
    std::vector<float> before, nearest, master;
    {
        const auto fx = session("flan-t5-tiny", kHalf);
        before = fx->read(name, FT5_SLOT_WEIGHT);
        for (int step = 1; step <= steps; ++step) train_step(*fx, b, uint64_t(step), lr);
        nearest = fx->read(name, FT5_SLOT_WEIGHT);
    }
    {
        const auto fx = session("flan-t5-tiny", kHalfMaster);
        for (int step = 1; step <= steps; ++step) train_step(*fx, b, uint64_t(step), lr);
        master = fx->read(name, FT5_SLOT_WEIGHT);
    }
    std::size_t big = 0, nearest_moved = 0, master_moved = 0, master_off_halves = 0, weight_moved = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
        if (std::abs(before[i]) < 0x1p-4f || std::abs(before[i]) >= 0x1p-2f) continue;  // ulps 2^-14 .. 2^-12
        ++big;
        nearest_moved += nearest[i] != before[i];
        master_moved += master[i] != before[i];
        weight_moved += nearest_half(master[i]) != before[i];
        // the slot reads the master: fp32 values no half holds (a normal half has 10 mantissa bits, fp32 23)
        uint32_t bits = 0;
        std::memcpy(&bits, &master[i], sizeof bits);
        master_off_halves += (bits & 0x1fffu) != 0;
    }
    std::printf("of %zu weights with 2^-4 <= |w| < 2^-2, after %d updates of 2^-16: %zu fp16 weights moved rounding each "
                "update to nearest; with an fp32 master %zu masters moved (%zu between halves) and %zu fp16 weights\n",
                big, steps, nearest_moved, master_moved, master_off_halves, weight_moved);
    ASSERT_GT(big, before.size() / 10);
    EXPECT_EQ(nearest_moved, 0u);
    EXPECT_GT(master_moved, big * 9 / 10);
    // 8 updates of 2^-16 reach half an ulp (2^-13) for weights below 2^-2 whose update kept one sign
    EXPECT_GT(weight_moved, big / 4);
    EXPECT_GT(master_off_halves, big / 2);
}

TEST(HalfPrecisionMasterWeights, AResumedRunWithMasterWeightsIsTheStraightOneBitForBit) {
    expect_resume_bit_for_bit(kHalfMaster);
}
