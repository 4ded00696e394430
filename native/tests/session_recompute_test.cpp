// Activation recomputation (plan->recompute = 1): the forward pass keeps only each block's input and the
// backward pass runs the block again. Same float operations and the same dropout masks, so losses, gradients
// and weights after AdamW steps are bit-identical to keeping everything, with a lower on-chip peak.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <utility>

#include "t5_session_fixture.h"

using namespace ft5::test;

namespace {

float train_step(SessionFixture& fx, const OwnedBatch& b, int s) {
    const ft5_batch view = b.view(true);
    EXPECT_EQ(ft5_session_zero_gradients(fx.session), FT5_OK);
    float loss = 0;
    EXPECT_EQ(ft5_session_forward_backward(fx.session, &view, 1.0f, &loss), FT5_OK) << ft5_last_error();
    const ft5_optimizer_step st = adamw(uint64_t(s + 1), 1e-3f, 0.01f);
    ft5_step_result r = step_result();
    EXPECT_EQ(ft5_session_optimizer_step(fx.session, &st, &r), FT5_OK) << ft5_last_error();
    return loss;
}

}  // namespace

// (tensor-parallel degree, pipeline stages)
class SessionRecompute : public ::testing::TestWithParam<std::pair<uint32_t, uint32_t>> {};

TEST_P(SessionRecompute, TrainingWithDropoutIsBitIdenticalWithALowerPeak) {
    const auto [tp, pp] = GetParam();
    // Dropout on: the recomputed blocks must draw the same masks as the forward pass did.
    SessionFixture kept("flan-t5-tiny", 0.1f, 2, tp, pp, 1);
    SessionFixture recomputed("flan-t5-tiny", 0.1f, 2, tp, pp, 1, FT5_MEMORY_ON_CHIP, 1);
    ASSERT_NE(recomputed.session, nullptr);
    ASSERT_EQ(ft5_device_reset_peaks(kept.device), FT5_OK);
    ASSERT_EQ(ft5_device_reset_peaks(recomputed.device), FT5_OK);
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.safetensors"));
    for (int s = 0; s < 4; ++s) {
        const OwnedBatch b = reference_batch(ref, "step" + std::to_string(s) + ".");
        EXPECT_EQ(train_step(recomputed, b, s), train_step(kept, b, s)) << "step " << s;
    }
    for (const auto& name : kept.param_names()) {
        EXPECT_EQ(recomputed.read(name, FT5_SLOT_WEIGHT), kept.read(name, FT5_SLOT_WEIGHT)) << name;
        EXPECT_EQ(recomputed.read(name, FT5_SLOT_GRADIENT), kept.read(name, FT5_SLOT_GRADIENT)) << name;
    }
    uint64_t rng_a = 0, rng_b = 0;
    ASSERT_EQ(ft5_session_get_rng_state(kept.session, &rng_a), FT5_OK);
    ASSERT_EQ(ft5_session_get_rng_state(recomputed.session, &rng_b), FT5_OK);
    EXPECT_EQ(rng_b, rng_a);
    for (uint32_t ipu = 0; ipu < tp * pp; ++ipu) {
        const auto a = memory_report(kept.device, ipu), b = memory_report(recomputed.device, ipu);
        // Above the parameters (the same in both): what the activations took at their peak.
        ASSERT_EQ(a.on_chip_used_bytes, b.on_chip_used_bytes);
        const double acts_a = double(a.on_chip_peak_bytes - a.on_chip_used_bytes);
        const double acts_b = double(b.on_chip_peak_bytes - b.on_chip_used_bytes);
        EXPECT_LT(acts_b, 0.8 * acts_a) << "IPU " << ipu;
        std::printf("[tp %u pp %u] IPU %u on-chip peak %llu bytes recomputed vs %llu kept (%.3f); activations %.0f vs "
                    "%.0f bytes (%.3f)\n",
                    unsigned(tp), unsigned(pp), unsigned(ipu), static_cast<unsigned long long>(b.on_chip_peak_bytes),
                    static_cast<unsigned long long>(a.on_chip_peak_bytes),
                    double(b.on_chip_peak_bytes) / double(a.on_chip_peak_bytes), acts_b, acts_a, acts_b / acts_a);
    }
}

INSTANTIATE_TEST_SUITE_P(Degrees, SessionRecompute,
                         ::testing::Values(std::pair{1u, 1u}, std::pair{2u, 1u}, std::pair{2u, 2u}));
