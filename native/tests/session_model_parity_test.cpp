// Forward and backward of the native T5 against the float64 references made with Hugging Face
// (hf-t5-tiny: four embedding matrices) and its hub-structured twin (flan-t5-tiny: one shared matrix).
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "parity_bounds.h"
#include "t5_session_fixture.h"

using namespace ft5::test;

class SessionParity : public ::testing::TestWithParam<const char*> {};

TEST_P(SessionParity, ForwardMatchesFloat64Reference) {
    SessionFixture fx(GetParam());
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const ft5_batch view = b.view();
    std::vector<float> logits(size_t(b.batch) * b.tgt_len * size_t(fx.vocab()));
    std::vector<float> enc(size_t(b.batch) * b.src_len * fx.desc.d_model);
    float loss = 0;
    ASSERT_EQ(ft5_session_forward(fx.session, &view, logits.data(), logits.size(), enc.data(), enc.size(), &loss),
              FT5_OK)
        << ft5_last_error();
    const double logits_err = rel_err(logits, ref.at("logits_f64").f64());
    const double enc_err = rel_err(enc, ref.at("encoder_last_hidden_state_f64").f64());
    const double ref_loss = ref.at("loss_f64").f64()[0];
    const double loss_err = std::abs(loss - ref_loss) / std::abs(ref_loss);
    std::printf("[%s] logits rel err %.3e, encoder hidden %.3e, loss %.3e (%.6f vs %.6f)\n", GetParam(), logits_err,
                enc_err, loss_err, double(loss), ref_loss);
    EXPECT_LE(logits_err, kLogitsBound);
    EXPECT_LE(enc_err, kEncoderBound);
    EXPECT_LE(loss_err, kLossBound);
}

TEST_P(SessionParity, EveryGradientMatchesFloat64Reference) {
    SessionFixture fx(GetParam());
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const ft5_batch view = b.view();
    float loss = 0;
    ASSERT_EQ(ft5_session_forward_backward(fx.session, &view, 1.0f, &loss), FT5_OK) << ft5_last_error();
    std::set<std::string> reference_names;
    for (const auto& [name, t] : ref.all())
        if (name.rfind("grad.", 0) == 0) reference_names.insert(name.substr(5));
    double worst = 0;
    std::string worst_name;
    for (const auto& name : fx.param_names()) {
        ASSERT_TRUE(reference_names.count(name)) << "no reference gradient for " << name;
        reference_names.erase(name);
        const double e = rel_err(fx.read(name, FT5_SLOT_GRADIENT), ref.at("grad." + name).f64());
        EXPECT_LE(e, kGradientBound) << name;
        if (e > worst) {
            worst = e;
            worst_name = name;
        }
    }
    EXPECT_TRUE(reference_names.empty()) << "reference gradients without a session parameter: "
                                         << *reference_names.begin();
    std::printf("[%s] worst gradient rel err %.3e (%s)\n", GetParam(), worst, worst_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionParity, ::testing::Values("flan-t5-tiny", "hf-t5-tiny"),
                         [](const auto& param_info) {
                             std::string n = param_info.param;
                             for (auto& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

TEST(SessionParity, FinetunedMnliLogitsMatchReference) {
    SessionFixture fx("flan-t5-tiny-mnli");
    const SafetensorsFile ref(fixture_path("flan-t5-tiny-mnli", "reference_generation.safetensors"));
    OwnedBatch all;
    const auto& ids = ref.at("gen_input_ids");
    all.batch = uint32_t(ids.shape[0]);
    all.src_len = uint32_t(ids.shape[1]);
    all.input_ids = ids.i32();
    all.attention_mask = ref.at("gen_attention_mask").i32();
    const auto& dec = ref.at("logits_decoder_input_ids");
    all.tgt_len = uint32_t(dec.shape[1]);
    all.decoder_input_ids.assign(size_t(all.batch) * all.tgt_len, 0);
    const auto dec_ids = dec.i32();
    std::copy(dec_ids.begin(), dec_ids.end(), all.decoder_input_ids.begin());
    const OwnedBatch b = all.rows(0, uint32_t(dec.shape[0]));
    const ft5_batch view = b.view();
    std::vector<float> logits(size_t(b.batch) * b.tgt_len * size_t(fx.vocab()));
    ASSERT_EQ(ft5_session_forward(fx.session, &view, logits.data(), logits.size(), nullptr, 0, nullptr), FT5_OK)
        << ft5_last_error();
    const double e = rel_err(logits, ref.at("logits_f64").f64());
    std::printf("[flan-t5-tiny-mnli] logits rel err %.3e\n", e);
    EXPECT_LE(e, kLogitsBound);
}
