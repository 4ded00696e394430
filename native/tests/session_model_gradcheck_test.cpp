// Geometries the fixtures do not cover, checked against finite differences of the session's own loss:
// relu FFN with tied embeddings (the d_model^-0.5 output scale), d_kv x heads != d_model, unequal encoder
// and decoder depths, padding and ignored labels; plus cached decoding on the tied model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ft5/ft5.h"

namespace {

struct Geometry {
    const char* name;
    ft5_ffn_kind ffn;
    int32_t tied;
    ft5_embedding_layout layout;
    uint32_t enc_layers, dec_layers;
};

class SessionGradCheck : public ::testing::TestWithParam<Geometry> {
protected:
    void SetUp() override {
        const Geometry g = GetParam();
        ft5_model_desc_init(&m);
        m.vocab_size = 40;
        m.d_model = 12;
        m.d_kv = 5;
        m.num_heads = 3;
        m.d_ff = 20;
        m.num_layers = g.enc_layers;
        m.num_decoder_layers = g.dec_layers;
        m.relative_attention_num_buckets = 8;
        m.relative_attention_max_distance = 16;
        m.feed_forward_proj = g.ffn;
        m.tie_word_embeddings = g.tied;
        m.embedding_layout = g.layout;
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = 2;
        ASSERT_EQ(ft5_device_create(&dd, &device), FT5_OK);
        ft5_plan_desc plan;
        ft5_plan_desc_init(&plan);
        ASSERT_EQ(ft5_session_create(device, &m, &plan, &session), FT5_OK) << ft5_last_error();
        uint32_t n = 0;
        ASSERT_EQ(ft5_session_param_count(session, &n), FT5_OK);
        std::mt19937 rng(7);
        for (uint32_t i = 0; i < n; ++i) {
            ft5_param_info info{};
            info.struct_size = sizeof(info);
            ASSERT_EQ(ft5_session_param_info(session, i, &info), FT5_OK);
            size_t count = 1;
            for (uint32_t r = 0; r < info.rank; ++r) count *= size_t(info.shape[r]);
            const bool norm = std::string(info.name).find("norm") != std::string::npos;
            std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
            std::vector<float> w(count);
            for (auto& x : w) x = dist(rng);
            ASSERT_EQ(ft5_session_param_write(session, i, FT5_SLOT_WEIGHT, w.data(), w.size()), FT5_OK);
            names.emplace_back(info.name);
            sizes.push_back(count);
        }
        ids = {3, 7, 11, 1, 0, 5, 9, 2, 8, 1};
        mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
        dec = {0, 4, 6, 8, 0, 12, 14, 16};
        labels = {4, 6, 8, 1, 12, 14, -100, 1};
        ft5_batch_init(&batch);
        batch.batch = 2;
        batch.src_len = 5;
        batch.tgt_len = 4;
        batch.input_ids = ids.data();
        batch.attention_mask = mask.data();
        batch.decoder_input_ids = dec.data();
        batch.labels = labels.data();
    }
    void TearDown() override {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
    // Loss in fp64 from the fp32 logits (the session's out_loss is fp32).
    double loss() {
        std::vector<float> logits(2 * 4 * 40);
        EXPECT_EQ(ft5_session_forward(session, &batch, logits.data(), logits.size(), nullptr, 0, nullptr), FT5_OK);
        double total = 0;
        int count = 0;
        for (int r = 0; r < 8; ++r) {
            if (labels[size_t(r)] == -100) continue;
            const float* l = logits.data() + r * 40;
            double mx = l[0], s = 0;
            for (int j = 1; j < 40; ++j) mx = std::max(mx, double(l[j]));
            for (int j = 0; j < 40; ++j) s += std::exp(double(l[j]) - mx);
            total += mx + std::log(s) - l[labels[size_t(r)]];
            ++count;
        }
        return total / count;
    }

    ft5_model_desc m{};
    ft5_device* device = nullptr;
    ft5_session* session = nullptr;
    std::vector<std::string> names;
    std::vector<size_t> sizes;
    std::vector<int32_t> ids, mask, dec, labels;
    ft5_batch batch{};
};

TEST_P(SessionGradCheck, GradientsMatchFiniteDifferences) {
    float l = 0;
    ASSERT_EQ(ft5_session_forward_backward(session, &batch, 1.0f, &l), FT5_OK) << ft5_last_error();
    EXPECT_NEAR(l, loss(), 1e-5);
    std::mt19937 rng(3);
    double worst = 0;
    for (size_t p = 0; p < names.size(); ++p) {
        std::vector<float> w(sizes[p]), g(sizes[p]);
        ASSERT_EQ(ft5_session_param_read(session, uint32_t(p), FT5_SLOT_WEIGHT, w.data(), w.size()), FT5_OK);
        ASSERT_EQ(ft5_session_param_read(session, uint32_t(p), FT5_SLOT_GRADIENT, g.data(), g.size()), FT5_OK);
        // Along the gradient itself (the largest signal) and along a random direction.
        std::vector<double> u(g.begin(), g.end()), r(g.size());
        std::normal_distribution<double> nd(0.0, 1.0);
        for (auto& x : r) x = nd(rng);
        for (auto* dir : {&u, &r}) {
            double norm = 0;
            for (double x : *dir) norm += x * x;
            norm = std::sqrt(norm);
            if (norm == 0) continue;
            double analytic = 0;
            for (size_t i = 0; i < g.size(); ++i) analytic += double(g[i]) * (*dir)[i] / norm;
            const double eps = 1e-3;
            auto shifted = [&](double s) {
                std::vector<float> ws(w.size());
                for (size_t i = 0; i < w.size(); ++i) ws[i] = float(w[i] + s * (*dir)[i] / norm);
                EXPECT_EQ(ft5_session_param_write(session, uint32_t(p), FT5_SLOT_WEIGHT, ws.data(), ws.size()), FT5_OK);
                return loss();
            };
            const double numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
            ASSERT_EQ(ft5_session_param_write(session, uint32_t(p), FT5_SLOT_WEIGHT, w.data(), w.size()), FT5_OK);
            // fp32 logits put ~3e-4 of noise on the difference quotient: absolute + relative bound.
            const double err = std::abs(numeric - analytic) / (1e-3 + 5e-3 * std::abs(numeric));
            EXPECT_LE(err, 1.0) << names[p] << (dir == &u ? " (gradient direction)" : " (random direction)")
                                 << ": analytic " << analytic << " numeric " << numeric;
            worst = std::max(worst, err);
        }
    }
    std::printf("[%s] worst finite-difference error %.2f of the bound over %zu parameters\n", GetParam().name, worst,
                names.size());
}

TEST_P(SessionGradCheck, CachedDecodingMatchesForward) {
    std::vector<float> full(2 * 4 * 40);
    ASSERT_EQ(ft5_session_forward(session, &batch, full.data(), full.size(), nullptr, 0, nullptr), FT5_OK);
    ASSERT_EQ(ft5_session_decode_begin(session, ids.data(), mask.data(), 2, 5, 4), FT5_OK) << ft5_last_error();
    std::vector<float> step(2 * 40);
    for (uint32_t t = 0; t < 4; ++t) {
        const std::vector<int32_t> tok{dec[t], dec[4 + t]};
        ASSERT_EQ(ft5_session_decode_step(session, tok.data(), step.data(), step.size()), FT5_OK) << ft5_last_error();
        for (int r = 0; r < 2; ++r)
            for (int j = 0; j < 40; ++j)
                EXPECT_NEAR(step[size_t(r * 40 + j)], full[size_t((r * 4 + int(t)) * 40 + j)], 1e-5)
                    << "row " << r << " step " << t;
    }
    ASSERT_EQ(ft5_session_decode_end(session), FT5_OK);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, SessionGradCheck,
    ::testing::Values(Geometry{"relu_tied_2x3", FT5_FFN_RELU, 1, FT5_EMBEDDING_SHARED, 2, 3},
                      Geometry{"gated_separate_1x2", FT5_FFN_GATED_GELU, 0, FT5_EMBEDDING_SEPARATE, 1, 2}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
