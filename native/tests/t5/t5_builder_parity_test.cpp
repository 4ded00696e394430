// The T5 graph on one emulated IPU against the float64 references made with Hugging Face (hf-t5-tiny: separate
// embedding matrices; flan-t5-tiny: one shared matrix), within the fixtures' parity bounds (parity_bounds.h).
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "parity_bounds.h"
#include "t5/t5_graph_fixture.h"
#include "t5_session_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

t5::BatchShape shape_of(const OwnedBatch& b) { return t5::BatchShape{b.batch, b.src_len, b.tgt_len}; }

std::string param_name(const ::testing::TestParamInfo<const char*>& info) {
    std::string n = info.param;
    for (auto& c : n)
        if (c == '-') c = '_';
    return n;
}

}  // namespace

class T5BuilderParity : public ::testing::TestWithParam<const char*> {};

TEST_P(T5BuilderParity, ForwardMatchesFloat64Reference) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    auto g = fixture_graph(GetParam(), shape_of(b));
    g->set_batch(b);
    g->run(t5::T5Program::kForward);
    const double logits_err = rel_err(g->logits, ref.at("logits_f64").f64());
    const double enc_err = rel_err(g->encoder_output, ref.at("encoder_last_hidden_state_f64").f64());
    const double ref_loss = ref.at("loss_f64").f64()[0];
    const double loss_err = std::abs(g->loss - ref_loss) / std::abs(ref_loss);
    std::printf("[%s graph] logits rel err %.3e, encoder hidden %.3e, loss %.3e (%.6f vs %.6f)\n", GetParam(),
                logits_err, enc_err, loss_err, double(g->loss), ref_loss);
    EXPECT_LE(logits_err, kLogitsBound);
    EXPECT_LE(enc_err, kEncoderBound);
    EXPECT_LE(loss_err, kLossBound);
}

TEST_P(T5BuilderParity, EveryGradientMatchesFloat64Reference) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    auto g = fixture_graph(GetParam(), shape_of(b));
    g->set_batch(b);
    g->run(t5::T5Program::kZeroGradients);
    g->run(t5::T5Program::kForwardBackward);
    const double ref_loss = ref.at("loss_f64").f64()[0];
    EXPECT_LE(std::abs(g->loss - ref_loss) / std::abs(ref_loss), kLossBound);
    std::set<std::string> reference_names;
    for (const auto& [name, t] : ref.all())
        if (name.rfind("grad.", 0) == 0) reference_names.insert(name.substr(5));
    double worst = 0;
    std::string worst_name;
    for (const auto& p : g->program.parameters().all()) {
        ASSERT_TRUE(reference_names.count(p.name)) << "no reference gradient for " << p.name;
        reference_names.erase(p.name);
        const double e = rel_err(g->gradient(p), ref.at("grad." + p.name).f64());
        EXPECT_LE(e, kGradientBound) << p.name;
        if (e > worst) {
            worst = e;
            worst_name = p.name;
        }
    }
    EXPECT_TRUE(reference_names.empty()) << "reference gradients without a graph parameter: "
                                         << *reference_names.begin();
    std::printf("[%s graph] worst gradient rel err %.3e (%s)\n", GetParam(), worst, worst_name.c_str());
}

// Gradients add up across runs until zeroed: two runs of the same batch give twice one run's gradients.
TEST_P(T5BuilderParity, GradientsAccumulateUntilZeroed) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    auto g = fixture_graph(GetParam(), shape_of(b));
    g->set_batch(b);
    g->run(t5::T5Program::kZeroGradients);
    g->run(t5::T5Program::kForwardBackward);
    const t5::Parameter& p = g->program.parameters().all().back();
    std::vector<float> once = g->gradient(p);
    g->run(t5::T5Program::kForwardBackward);
    for (auto& x : once) x *= 2;
    EXPECT_LE(rel_err(g->gradient(p), once), 1e-6) << p.name;
    g->run(t5::T5Program::kZeroGradients);
    for (const float x : g->gradient(p)) ASSERT_EQ(x, 0.0f) << p.name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, T5BuilderParity, ::testing::Values("flan-t5-tiny", "hf-t5-tiny"), param_name);

// The loss scale multiplies every gradient; a power of two does so exactly.
TEST(T5BuilderLossScale, ScalesEveryGradientExactly) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    auto g = fixture_graph("flan-t5-tiny", shape_of(b));
    g->set_batch(b);
    g->run(t5::T5Program::kZeroGradients);
    g->run(t5::T5Program::kForwardBackward);
    std::vector<std::vector<float>> unscaled;
    for (const auto& p : g->program.parameters().all()) unscaled.push_back(g->gradient(p));
    const float loss = g->loss;
    g->loss_scale = 8.0f;
    g->run(t5::T5Program::kZeroGradients);
    g->run(t5::T5Program::kForwardBackward);
    EXPECT_EQ(g->loss, loss) << "the loss itself is not scaled";
    std::size_t i = 0;
    for (const auto& p : g->program.parameters().all()) {
        const std::vector<float> scaled = g->gradient(p);
        const std::vector<float>& want = unscaled[i++];
        for (std::size_t j = 0; j < scaled.size(); ++j) ASSERT_EQ(scaled[j], 8.0f * want[j]) << p.name << "[" << j << "]";
    }
}
