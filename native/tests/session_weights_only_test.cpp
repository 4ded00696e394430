// Weights-only sessions (plan->weights_only = 1), for conversion and serving: a quarter of the memory of a
// trainable session, the same forward and decoding results bit for bit, and every training call refused with a
// message rather than run against gradients or moments that do not exist.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "t5_session_fixture.h"

using namespace ft5::test;

namespace {

constexpr uint32_t kWeightsOnly = 1;

std::vector<float> forward_logits(SessionFixture& fx, const OwnedBatch& b) {
    std::vector<float> logits(size_t(b.batch) * b.tgt_len * size_t(fx.vocab()));
    const ft5_batch view = b.view();
    EXPECT_EQ(ft5_session_forward(fx.session, &view, logits.data(), logits.size(), nullptr, 0, nullptr), FT5_OK)
        << ft5_last_error();
    return logits;
}

// Logits of the first three greedy decoding steps of every row.
std::vector<float> decode_logits(SessionFixture& fx, const OwnedBatch& b) {
    EXPECT_EQ(ft5_session_decode_begin(fx.session, b.input_ids.data(), b.attention_mask.data(), b.batch, b.src_len, 3),
              FT5_OK)
        << ft5_last_error();
    std::vector<int32_t> tokens(b.batch, fx.desc.decoder_start_token_id);
    std::vector<float> all, step(size_t(b.batch) * size_t(fx.vocab()));
    for (int t = 0; t < 3; ++t) {
        EXPECT_EQ(ft5_session_decode_step(fx.session, tokens.data(), step.data(), step.size()), FT5_OK)
            << ft5_last_error();
        all.insert(all.end(), step.begin(), step.end());
        for (uint32_t r = 0; r < b.batch; ++r) tokens[r] = int32_t(r + 3 + t);
    }
    EXPECT_EQ(ft5_session_decode_end(fx.session), FT5_OK);
    return all;
}

void expect_refused(ft5_status status, const std::string& call) {
    EXPECT_EQ(status, FT5_ERR_NOT_SUPPORTED) << call;
    EXPECT_NE(std::string(ft5_last_error()).find("weights-only"), std::string::npos) << call << ": " << ft5_last_error();
}

}  // namespace

// (tp, pp, weights location)
class SessionWeightsOnly : public ::testing::TestWithParam<std::tuple<uint32_t, uint32_t, ft5_memory_location>> {};

TEST_P(SessionWeightsOnly, HoldsAQuarterOfTheMemoryAndComputesTheSame) {
    const auto [tp, pp, weights] = GetParam();
    const ft5_memory_location moments = weights;  // phased execution streams the moments too
    SessionFixture trainable("flan-t5-tiny", -1.0f, 2, tp, pp, 1, moments, 0, weights);
    SessionFixture serving("flan-t5-tiny", -1.0f, 2, tp, pp, 1, moments, 0, weights, FT5_SCHEDULE_GPIPE, kWeightsOnly);
    ASSERT_NE(serving.session, nullptr);
    for (uint32_t ipu = 0; ipu < tp * pp; ++ipu) {
        const auto a = memory_report(trainable.device, ipu), b = memory_report(serving.device, ipu);
        EXPECT_EQ(b.on_chip_used_bytes * 4 + b.streaming_used_bytes * 4, a.on_chip_used_bytes + a.streaming_used_bytes)
            << "IPU " << ipu;
        EXPECT_EQ(b.live_tensors * 4, a.live_tensors) << "IPU " << ipu;
    }
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch batch = reference_batch(ref);
    EXPECT_EQ(forward_logits(serving, batch), forward_logits(trainable, batch));
    EXPECT_EQ(decode_logits(serving, batch), decode_logits(trainable, batch));
    for (const auto& name : serving.param_names()) {
        EXPECT_EQ(serving.read(name, FT5_SLOT_WEIGHT), trainable.read(name, FT5_SLOT_WEIGHT)) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Plans, SessionWeightsOnly,
                         ::testing::Values(std::tuple{1u, 1u, FT5_MEMORY_ON_CHIP}, std::tuple{2u, 2u, FT5_MEMORY_ON_CHIP},
                                           std::tuple{2u, 1u, FT5_MEMORY_STREAMING}));

TEST(SessionWeightsOnlyErrors, TrainingCallsAndStateSlotsAreRefused) {
    SessionFixture fx("flan-t5-tiny", -1.0f, 2, 1, 1, 1, FT5_MEMORY_ON_CHIP, 0, FT5_MEMORY_ON_CHIP, FT5_SCHEDULE_GPIPE,
                      kWeightsOnly);
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    const ft5_batch view = b.view(true);
    float loss = 0;
    expect_refused(ft5_session_forward_backward(fx.session, &view, 1.0f, &loss), "forward_backward");
    const ft5_batch* batches[] = {&view};
    expect_refused(ft5_session_forward_backward_micro_batches(fx.session, batches, 1, 1.0f, &loss, 1),
                   "forward_backward_micro_batches");
    expect_refused(ft5_session_zero_gradients(fx.session), "zero_gradients");
    const ft5_optimizer_step step = adamw(1, 1e-3f);
    ft5_step_result result = step_result();
    expect_refused(ft5_session_optimizer_step(fx.session, &step, &result), "optimizer_step");

    const std::string name = "encoder.block.0.layer.0.SelfAttention.q.weight";
    std::vector<float> data(fx.numel(name));
    expect_refused(ft5_session_param_read(fx.session, fx.index(name), FT5_SLOT_GRADIENT, data.data(), data.size()),
                   "param_read gradient");
    expect_refused(ft5_session_param_write(fx.session, fx.index(name), FT5_SLOT_ADAM_M, data.data(), data.size()),
                   "param_write adam m");
    expect_refused(
        ft5_session_param_read_shard(fx.session, fx.index(name), 0, FT5_SLOT_ADAM_V, data.data(), data.size()),
        "param_read_shard adam v");
    // Weights stay readable and writable.
    EXPECT_EQ(ft5_session_param_write(fx.session, fx.index(name), FT5_SLOT_WEIGHT, data.data(), data.size()), FT5_OK)
        << ft5_last_error();
    EXPECT_EQ(fx.read(name, FT5_SLOT_WEIGHT), data);
}
