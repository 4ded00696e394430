// The session on the builder (session::BuilderSession) against the eager session through the ABI, on random
// weights of a tiny geometry (the eager session through plan->executor EAGER): forward outputs and loss on a
// padded bucket, gradients added across two batch shapes (the state moving between programs), the AdamW step,
// greedy and beam decoding (reorders within a bucket and across buckets), and the dropout stream's resume.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "model/model_config.h"
#include "abi/error.h"
#include "abi/handles.h"
#include "parity_bounds.h"
#include "session/builder_session.h"
#include "t5_session_fixture.h"

using namespace ft5::test;

namespace {

// Two float32 computations of the same float64 quantity, each within the fixtures' bounds of it (parity_bounds.h).
constexpr double kLossAgreement = 2 * kLossBound, kGradientAgreement = 2 * kGradientBound,
                 kLogitsAgreement = 2 * kLogitsBound, kEncoderAgreement = 2 * kEncoderBound;

ft5_model_desc tiny_desc(float dropout = 0.0f) {
    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = 40;
    m.d_model = 12;
    m.d_kv = 5;
    m.num_heads = 3;
    m.d_ff = 20;
    m.num_layers = 1;
    m.num_decoder_layers = 2;
    m.relative_attention_num_buckets = 8;
    m.relative_attention_max_distance = 16;
    m.dropout_rate = dropout;
    m.seed = 11;
    return m;
}

OwnedBatch batch_2x5x4() {
    OwnedBatch o;
    o.batch = 2;
    o.src_len = 5;
    o.tgt_len = 4;
    o.input_ids = {3, 7, 11, 1, 0, 5, 9, 2, 8, 1};
    o.attention_mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    o.decoder_input_ids = {0, 4, 6, 8, 0, 12, 14, 16};
    o.labels = {4, 6, 8, 1, 12, 14, -100, 1};
    return o;
}

OwnedBatch batch_3x3x2() {
    OwnedBatch o;
    o.batch = 3;
    o.src_len = 3;
    o.tgt_len = 2;
    o.input_ids = {13, 2, 1, 4, 6, 1, 21, 1, 0};
    o.attention_mask = {1, 1, 1, 1, 1, 1, 1, 1, 0};
    o.decoder_input_ids = {0, 5, 0, 7, 0, 9};
    o.labels = {5, 1, 7, 1, 9, -100};
    return o;
}

ft5::model::BatchView view_of(const OwnedBatch& b, bool training = false) {
    ft5::model::BatchView v;
    v.batch = b.batch;
    v.src_len = b.src_len;
    v.tgt_len = b.tgt_len;
    v.input_ids = b.input_ids.data();
    v.attention_mask = b.attention_mask.empty() ? nullptr : b.attention_mask.data();
    v.decoder_input_ids = b.decoder_input_ids.data();
    v.labels = b.labels.empty() ? nullptr : b.labels.data();
    v.training = training;
    return v;
}

// The builder session and the eager one with the same random weights.
struct Pair {
    ft5_device* device = nullptr;
    ft5_session* eager = nullptr;
    uint32_t eager_programs = 1;
    std::unique_ptr<ft5::session::BuilderSession> builder;

    explicit Pair(const ft5_model_desc& m) {
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = 2;
        EXPECT_EQ(ft5_device_create(&dd, &device), FT5_OK);
        ft5_plan_desc plan;
        ft5_plan_desc_init(&plan);
        plan.executor = FT5_EXECUTOR_EAGER;
        EXPECT_EQ(ft5_session_create(device, &m, &plan, &eager), FT5_OK) << ft5_last_error();
        EXPECT_EQ(ft5_session_programs_built(eager, &eager_programs), FT5_OK);
        builder = std::make_unique<ft5::session::BuilderSession>(device->device, ft5::model::ModelConfig::from_desc(m),
                                                                 ft5::t5::ParallelPlan{}, ft5::session::LocalReplicas{}, false);
        uint32_t count = 0;
        EXPECT_EQ(ft5_session_param_count(eager, &count), FT5_OK);
        EXPECT_EQ(count, builder->params().size());
        for (uint32_t i = 0; i < count; ++i) {
            ft5_param_info info;
            info.struct_size = sizeof(info);
            EXPECT_EQ(ft5_session_param_info(eager, i, &info), FT5_OK);
            EXPECT_EQ(builder->params()[i].name, info.name) << "index " << i;
        }
        std::mt19937 rng(7);
        for (std::size_t i = 0; i < builder->params().size(); ++i) {
            const auto& p = builder->params()[i];
            const bool norm = p.name.find("norm") != std::string::npos;
            std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
            std::vector<float> w(std::size_t(p.count));
            for (auto& x : w) x = dist(rng);
            EXPECT_EQ(ft5_session_param_write(eager, eager_index(p.name), FT5_SLOT_WEIGHT, w.data(), w.size()), FT5_OK);
            builder->write(i, FT5_SLOT_WEIGHT, w.data());
        }
    }
    ~Pair() {
        ft5_session_destroy(eager);
        ft5_device_destroy(device);
    }
    uint32_t eager_index(const std::string& name) const {
        uint32_t index = 0;
        EXPECT_EQ(ft5_session_param_find(eager, name.c_str(), &index), FT5_OK) << name;
        return index;
    }
    // The worst relative difference of one slot over every parameter.
    double worst(ft5_param_slot slot) {
        double w = 0;
        for (std::size_t i = 0; i < builder->params().size(); ++i) {
            const auto& p = builder->params()[i];
            std::vector<float> a(std::size_t(p.count)), b(a.size());
            builder->read(i, slot, a.data());
            EXPECT_EQ(ft5_session_param_read(eager, eager_index(p.name), slot, b.data(), b.size()), FT5_OK);
            w = std::max(w, rel_err(a, b));
        }
        return w;
    }
};

TEST(BuilderSession, ForwardOutputsAndLossMatchTheEagerSessionOnAPaddedBucket) {
    Pair s(tiny_desc());
    EXPECT_EQ(s.eager_programs, 0u) << "the eager session compiles nothing";
    const OwnedBatch b = batch_2x5x4();  // runs on the 2 x 8 x 4 program
    const ft5_batch v = b.view();
    std::vector<float> eager_logits(std::size_t(b.batch * b.tgt_len) * 40), logits(eager_logits.size());
    std::vector<float> eager_hidden(std::size_t(b.batch * b.src_len) * 12), hidden(eager_hidden.size());
    float eager_loss = 0;
    ASSERT_EQ(ft5_session_forward(s.eager, &v, eager_logits.data(), eager_logits.size(), eager_hidden.data(),
                                  eager_hidden.size(), &eager_loss),
              FT5_OK);
    const double loss = s.builder->forward(view_of(b), logits.data(), hidden.data());
    EXPECT_LE(std::abs(loss - eager_loss) / std::abs(eager_loss), kLossAgreement);
    EXPECT_LE(rel_err(logits, eager_logits), kLogitsAgreement);
    EXPECT_LE(rel_err(hidden, eager_hidden), kEncoderAgreement);
}

TEST(BuilderSession, GradientsAddAcrossBatchShapesAndTheAdamWStepMatches) {
    Pair s(tiny_desc());
    const OwnedBatch a = batch_2x5x4(), b = batch_3x3x2();
    const ft5_batch va = a.view(true), vb = b.view(true);
    ASSERT_EQ(ft5_session_zero_gradients(s.eager), FT5_OK);
    s.builder->zero_gradients();
    float ea = 0, eb = 0;
    ASSERT_EQ(ft5_session_forward_backward(s.eager, &va, 0.5f, &ea), FT5_OK);
    ASSERT_EQ(ft5_session_forward_backward(s.eager, &vb, 2.0f, &eb), FT5_OK);
    const double la = s.builder->forward_backward(view_of(a, true), 0.5f);
    const double lb = s.builder->forward_backward(view_of(b, true), 2.0f);
    EXPECT_LE(std::abs(la - ea) / std::abs(ea), kLossAgreement);
    EXPECT_LE(std::abs(lb - eb) / std::abs(eb), kLossAgreement);
    EXPECT_LE(s.worst(FT5_SLOT_GRADIENT), kGradientAgreement);

    ft5_optimizer_step step;
    ft5_optimizer_step_init(&step);
    step.learning_rate = 1e-2f;
    step.weight_decay = 0.1f;
    step.grad_scale = 2.5f;
    step.max_grad_norm = 0.5f;
    ft5_step_result eager_result{};
    eager_result.struct_size = sizeof(eager_result);
    ASSERT_EQ(ft5_session_optimizer_step(s.eager, &step, &eager_result), FT5_OK);
    const ft5_step_result result = s.builder->optimizer_step(step);
    EXPECT_EQ(result.skipped_nonfinite, 0);
    EXPECT_LE(std::abs(result.grad_norm - eager_result.grad_norm) / eager_result.grad_norm, kGradientAgreement);
    EXPECT_LE(s.worst(FT5_SLOT_WEIGHT), kGradientAgreement);
    EXPECT_LE(s.worst(FT5_SLOT_ADAM_M), kGradientAgreement);
    EXPECT_LE(s.worst(FT5_SLOT_ADAM_V), 2 * kGradientAgreement);  // squares of the gradients: twice their error

    // the first program (the parameter list's), then one per bucket: 2 x 8 x 4 and 4 x 4 x 2
    EXPECT_EQ(s.builder->programs_built(), 3u);
}

TEST(BuilderSession, GreedyAndBeamDecodingMatchTheEagerSession) {
    Pair s(tiny_desc());
    const std::vector<int32_t> ids = {3, 7, 11, 1, 0, 5, 9, 2, 8, 1}, mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    const uint32_t src = 5, steps = 5, vocab = 40;
    ASSERT_EQ(ft5_session_decode_begin(s.eager, ids.data(), mask.data(), 2, src, steps), FT5_OK);
    s.builder->decode_begin(ids.data(), mask.data(), 2, src, steps);
    auto step_both = [&](const std::vector<int32_t>& tokens) {
        std::vector<float> e(tokens.size() * vocab), g(e.size());
        EXPECT_EQ(ft5_session_decode_step(s.eager, tokens.data(), e.data(), e.size()), FT5_OK) << ft5_last_error();
        s.builder->decode()->step(tokens.data(), g.data());
        return rel_err(g, e);
    };
    auto reorder_both = [&](const std::vector<int32_t>& rows) {
        ASSERT_EQ(ft5_session_decode_reorder(s.eager, rows.data(), uint32_t(rows.size())), FT5_OK);
        s.builder->decode()->reorder(rows.data(), uint32_t(rows.size()));
        EXPECT_EQ(s.builder->decode()->batch(), int64_t(rows.size()));
    };
    EXPECT_LE(step_both({0, 0}), kLogitsAgreement);
    EXPECT_LE(step_both({4, 12}), kLogitsAgreement);
    reorder_both({1, 0, 0, 1});  // 2 -> 4 rows: a new bucket, the histories fed again
    EXPECT_LE(step_both({6, 7, 8, 9}), kLogitsAgreement);
    reorder_both({3, 3, 0});  // 4 -> 3 rows: the same bucket, through the parents stream
    EXPECT_LE(step_both({10, 11, 12}), kLogitsAgreement);
    EXPECT_LE(step_both({1, 2, 3}), kLogitsAgreement);
    std::vector<float> logits(3 * vocab);
    const std::vector<int32_t> more = {1, 1, 1};
    EXPECT_THROW(s.builder->decode()->step(more.data(), logits.data()), ft5::Error);  // max_steps tokens fed
}

TEST(BuilderSession, DropoutResumesBitIdenticallyFromTheRngState) {
    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&dd, &device), FT5_OK);
    ft5::session::BuilderSession s(device->device, ft5::model::ModelConfig::from_desc(tiny_desc(0.3f)),
                                   ft5::t5::ParallelPlan{}, ft5::session::LocalReplicas{}, false);
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 0.4f);
    for (std::size_t i = 0; i < s.params().size(); ++i) {
        std::vector<float> w(std::size_t(s.params()[i].count));
        for (auto& x : w) x = dist(rng);
        s.write(i, FT5_SLOT_WEIGHT, w.data());
    }
    const OwnedBatch b = batch_2x5x4();
    auto gradients = [&] {
        s.zero_gradients();
        s.forward_backward(view_of(b, true), 1.0f);
        std::vector<float> all;
        for (std::size_t i = 0; i < s.params().size(); ++i) {
            std::vector<float> g(std::size_t(s.params()[i].count));
            s.read(i, FT5_SLOT_GRADIENT, g.data());
            all.insert(all.end(), g.begin(), g.end());
        }
        return all;
    };
    const uint64_t start = s.rng_state();
    const std::vector<float> first = gradients(), second = gradients();
    EXPECT_NE(first, second) << "each training pass draws new masks";
    s.set_rng_state(start);
    EXPECT_EQ(gradients(), first);
    EXPECT_EQ(gradients(), second);
    // an evaluation pass (training = 0) neither drops nor draws
    const uint64_t before = s.rng_state();
    s.zero_gradients();
    s.forward_backward(view_of(b, false), 1.0f);
    EXPECT_EQ(s.rng_state(), before);
    ft5_device_destroy(device);
}

}  // namespace
