// The T5 graph against the eager session on geometries the fixtures do not cover: relu feed-forward with tied
// embeddings (the d_model^-0.5 rescale), d_kv x heads != d_model, unequal encoder and decoder depths, padding and
// ignored labels. Both run the same random weights and batch; the eager session's gradients are themselves
// checked against finite differences (SessionGradCheck).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "parity_bounds.h"
#include "t5/t5_graph_fixture.h"
#include "t5_session_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

struct Geometry {
    const char* name;
    t5::FeedForward ffn;
    bool tied;
    t5::EmbeddingLayout layout;
    std::size_t enc_layers, dec_layers;
};

// Two float32 computations of the same float64 quantity, each within the fixtures' bounds of it (parity_bounds.h):
// they differ by at most the sum, 2 x the bound.
constexpr double kLossAgreement = 2 * kLossBound, kGradientAgreement = 2 * kGradientBound;

class T5BuilderAgainstEager : public ::testing::TestWithParam<Geometry> {};

TEST_P(T5BuilderAgainstEager, LossAndGradientsMatchTheEagerSession) {
    const Geometry geo = GetParam();
    t5::T5Config c;
    c.vocab = 40;
    c.d_model = 12;
    c.d_kv = 5;
    c.heads = 3;
    c.d_ff = 20;
    c.encoder_layers = geo.enc_layers;
    c.decoder_layers = geo.dec_layers;
    c.buckets = 8;
    c.max_distance = 16;
    c.feed_forward = geo.ffn;
    c.tied = geo.tied;
    c.embeddings = geo.layout;

    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = uint32_t(c.vocab);
    m.d_model = uint32_t(c.d_model);
    m.d_kv = uint32_t(c.d_kv);
    m.num_heads = uint32_t(c.heads);
    m.d_ff = uint32_t(c.d_ff);
    m.num_layers = uint32_t(c.encoder_layers);
    m.num_decoder_layers = uint32_t(c.decoder_layers);
    m.relative_attention_num_buckets = uint32_t(c.buckets);
    m.relative_attention_max_distance = uint32_t(c.max_distance);
    m.feed_forward_proj = geo.ffn == t5::FeedForward::Relu ? FT5_FFN_RELU : FT5_FFN_GATED_GELU;
    m.tie_word_embeddings = geo.tied ? 1 : 0;
    m.embedding_layout = geo.layout == t5::EmbeddingLayout::Separate ? FT5_EMBEDDING_SEPARATE : FT5_EMBEDDING_SHARED;
    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    dd.num_threads = 2;
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&dd, &device), FT5_OK);
    ft5_plan_desc plan;
    ft5_plan_desc_init(&plan);
    ft5_session* session = nullptr;
    ASSERT_EQ(ft5_session_create(device, &m, &plan, &session), FT5_OK) << ft5_last_error();

    const OwnedBatch b = [] {
        OwnedBatch o;
        o.batch = 2;
        o.src_len = 5;
        o.tgt_len = 4;
        o.input_ids = {3, 7, 11, 1, 0, 5, 9, 2, 8, 1};
        o.attention_mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
        o.decoder_input_ids = {0, 4, 6, 8, 0, 12, 14, 16};
        o.labels = {4, 6, 8, 1, 12, 14, -100, 1};
        return o;
    }();
    T5Graph g(c, t5::BatchShape{b.batch, b.src_len, b.tgt_len});
    uint32_t count = 0;
    ASSERT_EQ(ft5_session_param_count(session, &count), FT5_OK);
    ASSERT_EQ(count, g.program.parameters().all().size());
    std::mt19937 rng(7);
    for (const auto& p : g.program.parameters().all()) {
        uint32_t index = 0;
        ASSERT_EQ(ft5_session_param_find(session, p.name.c_str(), &index), FT5_OK) << p.name;
        const bool norm = p.name.find("norm") != std::string::npos;
        std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
        std::vector<float> w(p.weight.numElements());
        for (auto& x : w) x = dist(rng);
        ASSERT_EQ(ft5_session_param_write(session, index, FT5_SLOT_WEIGHT, w.data(), w.size()), FT5_OK);
        g.write_weight(p.name, w);
    }

    const ft5_batch view = b.view(true);
    float eager_loss = 0;
    ASSERT_EQ(ft5_session_zero_gradients(session), FT5_OK);
    ASSERT_EQ(ft5_session_forward_backward(session, &view, 1.0f, &eager_loss), FT5_OK) << ft5_last_error();
    g.set_batch(b);
    g.run(t5::T5Program::kZeroGradients);
    g.run(t5::T5Program::kForwardBackward);
    EXPECT_LE(std::abs(g.loss - eager_loss) / std::abs(eager_loss), kLossAgreement)
        << "graph " << g.loss << " eager " << eager_loss;
    double worst = 0;
    std::string worst_name;
    for (const auto& p : g.program.parameters().all()) {
        uint32_t index = 0;
        ASSERT_EQ(ft5_session_param_find(session, p.name.c_str(), &index), FT5_OK);
        std::vector<float> eager(p.weight.numElements());
        ASSERT_EQ(ft5_session_param_read(session, index, FT5_SLOT_GRADIENT, eager.data(), eager.size()), FT5_OK);
        const double e = rel_err(g.gradient(p), eager);
        EXPECT_LE(e, kGradientAgreement) << p.name;
        if (e > worst) {
            worst = e;
            worst_name = p.name;
        }
    }
    std::printf("[%s] loss graph %.7f eager %.7f; worst gradient difference %.3e (%s)\n", geo.name, double(g.loss),
                double(eager_loss), worst, worst_name.c_str());
    ft5_session_destroy(session);
    ft5_device_destroy(device);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, T5BuilderAgainstEager,
    ::testing::Values(Geometry{"relu_tied_2x3", t5::FeedForward::Relu, true, t5::EmbeddingLayout::Shared, 2, 3},
                      Geometry{"gated_separate_1x2", t5::FeedForward::GatedGelu, false, t5::EmbeddingLayout::Separate,
                               1, 2}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
