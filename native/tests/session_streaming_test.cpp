// AdamW moments in streaming memory (plan->optimizer_location = FT5_MEMORY_STREAMING): the optimizer step
// streams each parameter's moments through on-chip memory and back. The 12-step trajectory is bit-identical to
// the on-chip session (the same float operations), on-chip memory holds only weights and gradients, streaming
// memory holds the moments, and every byte moved counts as streaming traffic.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "t5_session_fixture.h"

using namespace ft5::test;

namespace {

uint64_t streaming_traffic(ft5_device* device) {
    ft5_traffic_report t{};
    t.struct_size = sizeof(t);
    EXPECT_EQ(ft5_device_traffic_report(device, &t), FT5_OK);
    return t.streaming_bytes;
}

// One step of the fixture trajectory; returns the loss and the gradient norm.
std::pair<float, double> train_step(SessionFixture& fx, const SafetensorsFile& ref, const JsonValue& meta, int s) {
    const TrajectoryStep step = trajectory_step(fx, ref, meta, s);
    return {step.loss, step.result.grad_norm};
}

}  // namespace

class SessionStreamingOptimizer : public ::testing::TestWithParam<uint32_t> {};

TEST_P(SessionStreamingOptimizer, TrajectoryIsBitIdenticalToOnChipWithMomentsInStreamingMemory) {
    const uint32_t tp = GetParam();
    SessionFixture on_chip("flan-t5-tiny", -1.0f, 2, tp, 1, 1, FT5_MEMORY_ON_CHIP);
    SessionFixture streamed("flan-t5-tiny", -1.0f, 2, tp, 1, 1, FT5_MEMORY_STREAMING);
    ASSERT_NE(streamed.session, nullptr);

    // Before anything runs: on chip the weights and gradients (half of the on-chip session's four copies),
    // in streaming memory the two moments.
    for (uint32_t ipu = 0; ipu < tp; ++ipu) {
        const auto a = memory_report(on_chip.device, ipu), b = memory_report(streamed.device, ipu);
        EXPECT_EQ(a.streaming_used_bytes, 0u);
        EXPECT_EQ(b.on_chip_used_bytes * 2, a.on_chip_used_bytes) << "IPU " << ipu;
        EXPECT_EQ(b.streaming_used_bytes * 2, a.on_chip_used_bytes) << "IPU " << ipu;
    }
    const uint64_t moment_bytes = memory_report(streamed.device, 0).streaming_used_bytes;
    ASSERT_EQ(ft5_device_reset_traffic(streamed.device), FT5_OK);
    ASSERT_EQ(ft5_device_reset_peaks(on_chip.device), FT5_OK);
    ASSERT_EQ(ft5_device_reset_peaks(streamed.device), FT5_OK);

    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.safetensors"));
    const JsonValue meta = parse_json(read_text(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.json")));
    const int steps = int(meta.at("steps").number);
    for (int s = 0; s < steps; ++s) {
        const auto [loss_a, norm_a] = train_step(on_chip, ref, meta, s);
        const auto [loss_b, norm_b] = train_step(streamed, ref, meta, s);
        EXPECT_EQ(loss_b, loss_a) << "step " << s;
        EXPECT_EQ(norm_b, norm_a) << "step " << s;
    }
    for (const auto& name : on_chip.param_names()) {
        for (const ft5_param_slot slot : {FT5_SLOT_WEIGHT, FT5_SLOT_GRADIENT, FT5_SLOT_ADAM_M, FT5_SLOT_ADAM_V}) {
            EXPECT_EQ(streamed.read(name, slot), on_chip.read(name, slot)) << name << " slot " << int(slot);
        }
    }

    // Every step reads both moments of every part into on-chip memory and writes them back.
    uint64_t all_moments = 0;
    for (uint32_t ipu = 0; ipu < tp; ++ipu) all_moments += memory_report(streamed.device, ipu).streaming_used_bytes;
    EXPECT_EQ(streaming_traffic(streamed.device), uint64_t(steps) * 2 * all_moments);
    for (uint32_t ipu = 0; ipu < tp; ++ipu) {
        const auto a = memory_report(on_chip.device, ipu), b = memory_report(streamed.device, ipu);
        // The moments' 2 x 4 bytes per element leave the chip; only one part's pass through at a time.
        EXPECT_LT(double(b.on_chip_peak_bytes), 0.75 * double(a.on_chip_peak_bytes)) << "IPU " << ipu;
        EXPECT_EQ(b.streaming_peak_bytes, b.streaming_used_bytes);
        std::printf("[tp %u] IPU %u on-chip peak %llu vs %llu bytes (%.3f), streaming %llu bytes\n", unsigned(tp),
                    unsigned(ipu), static_cast<unsigned long long>(b.on_chip_peak_bytes),
                    static_cast<unsigned long long>(a.on_chip_peak_bytes),
                    double(b.on_chip_peak_bytes) / double(a.on_chip_peak_bytes),
                    static_cast<unsigned long long>(b.streaming_used_bytes));
    }
    std::printf("[tp %u] moments %llu bytes on IPU 0, %llu streaming bytes moved in %d steps\n", unsigned(tp),
                static_cast<unsigned long long>(moment_bytes),
                static_cast<unsigned long long>(streaming_traffic(streamed.device)), steps);
}

INSTANTIATE_TEST_SUITE_P(TensorParallel, SessionStreamingOptimizer, ::testing::Values(1u, 2u));

// Phased execution: weights, gradients and moments in streaming memory; each block's weights (and, in the
// backward pass, its gradients) come on chip for the block only.
// (tensor-parallel degree, pipeline stages, replicas)
class SessionPhasedExecution : public ::testing::TestWithParam<std::tuple<uint32_t, uint32_t, uint32_t>> {};

TEST_P(SessionPhasedExecution, TrajectoryIsBitIdenticalToOnChipWithEverythingInStreamingMemory) {
    const auto [tp, pp, dp] = GetParam();
    const uint32_t ipus = tp * pp * dp;
    SessionFixture on_chip("flan-t5-tiny", -1.0f, 2, tp, pp, dp, FT5_MEMORY_ON_CHIP);
    SessionFixture phased("flan-t5-tiny", -1.0f, 2, tp, pp, dp, FT5_MEMORY_STREAMING, 0, FT5_MEMORY_STREAMING);
    ASSERT_NE(phased.session, nullptr);
    for (uint32_t ipu = 0; ipu < ipus; ++ipu) {
        const auto a = memory_report(on_chip.device, ipu), b = memory_report(phased.device, ipu);
        EXPECT_EQ(b.on_chip_used_bytes, 0u) << "IPU " << ipu;
        EXPECT_EQ(b.streaming_used_bytes, a.on_chip_used_bytes) << "IPU " << ipu;  // weight, gradient, m, v
    }
    ASSERT_EQ(ft5_device_reset_traffic(phased.device), FT5_OK);
    ASSERT_EQ(ft5_device_reset_peaks(on_chip.device), FT5_OK);
    ASSERT_EQ(ft5_device_reset_peaks(phased.device), FT5_OK);

    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.safetensors"));
    const JsonValue meta = parse_json(read_text(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.json")));
    const int steps = int(meta.at("steps").number);
    for (int s = 0; s < steps; ++s) {
        const auto [loss_a, norm_a] = train_step(on_chip, ref, meta, s);
        const auto [loss_b, norm_b] = train_step(phased, ref, meta, s);
        EXPECT_EQ(loss_b, loss_a) << "step " << s;
        EXPECT_EQ(norm_b, norm_a) << "step " << s;
    }
    for (const auto& name : on_chip.param_names()) {
        for (const ft5_param_slot slot : {FT5_SLOT_WEIGHT, FT5_SLOT_GRADIENT, FT5_SLOT_ADAM_M, FT5_SLOT_ADAM_V}) {
            EXPECT_EQ(phased.read(name, slot), on_chip.read(name, slot)) << name << " slot " << int(slot);
        }
    }
    // Inference from streamed weights: the same logits.
    const SafetensorsFile fwd(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(fwd);
    const ft5_batch view = b.view();
    std::vector<float> la(size_t(b.batch) * b.tgt_len * size_t(on_chip.vocab())), lb(la.size());
    ASSERT_EQ(ft5_session_forward(on_chip.session, &view, la.data(), la.size(), nullptr, 0, nullptr), FT5_OK);
    ASSERT_EQ(ft5_session_forward(phased.session, &view, lb.data(), lb.size(), nullptr, 0, nullptr), FT5_OK)
        << ft5_last_error();
    EXPECT_EQ(lb, la);
    // Incremental decoding from streamed weights (each step stages the decoder block by block): the same logits.
    const OwnedBatch prompts = b.rows(0, 2);
    std::vector<uint64_t> on_chip_state;  // before any decode program: the parameter state alone
    for (uint32_t ipu = 0; ipu < ipus; ++ipu) on_chip_state.push_back(memory_report(on_chip.device, ipu).on_chip_used_bytes);
    for (SessionFixture* fx : {&on_chip, &phased}) {
        ASSERT_EQ(ft5_session_decode_begin(fx->session, prompts.input_ids.data(), prompts.attention_mask.data(),
                                           prompts.batch, prompts.src_len, 3),
                  FT5_OK)
            << ft5_last_error();
    }
    std::vector<int32_t> tokens(prompts.batch, on_chip.desc.decoder_start_token_id);
    for (int t = 0; t < 3; ++t) {
        std::vector<float> da(size_t(prompts.batch) * size_t(on_chip.vocab())), db(da.size());
        ASSERT_EQ(ft5_session_decode_step(on_chip.session, tokens.data(), da.data(), da.size()), FT5_OK);
        ASSERT_EQ(ft5_session_decode_step(phased.session, tokens.data(), db.data(), db.size()), FT5_OK)
            << ft5_last_error();
        EXPECT_EQ(db, da) << "decode step " << t;
        for (auto& tok : tokens) tok = int32_t(t + 5);
    }
    EXPECT_EQ(ft5_session_decode_end(on_chip.session), FT5_OK);
    EXPECT_EQ(ft5_session_decode_end(phased.session), FT5_OK);

    EXPECT_GT(streaming_traffic(phased.device), 0u);
    uint64_t all_caches = 0;  // on the IPUs of the decoder's layers
    for (uint32_t ipu = 0; ipu < ipus; ++ipu) {
        const auto a = memory_report(on_chip.device, ipu), b2 = memory_report(phased.device, ipu);
        EXPECT_LT(double(b2.on_chip_peak_bytes), 0.6 * double(a.on_chip_peak_bytes)) << "IPU " << ipu;
        // Every phase buffer is released; the decode program's key/value caches stay while the engine lives, as
        // beside the on-chip state.
        const uint64_t caches = a.on_chip_used_bytes - on_chip_state[ipu];
        all_caches += caches;
        EXPECT_EQ(b2.on_chip_used_bytes, caches) << "IPU " << ipu << ": only the decode caches stay";
        std::printf("[t%u p%u d%u] phased IPU %u on-chip peak %llu vs %llu bytes (%.3f), streaming %llu bytes\n",
                    unsigned(tp), unsigned(pp), unsigned(dp), unsigned(ipu),
                    static_cast<unsigned long long>(b2.on_chip_peak_bytes),
                    static_cast<unsigned long long>(a.on_chip_peak_bytes),
                    double(b2.on_chip_peak_bytes) / double(a.on_chip_peak_bytes),
                    static_cast<unsigned long long>(b2.streaming_used_bytes));
    }
    EXPECT_GT(all_caches, 0u);
    std::printf("[t%u p%u d%u] phased: %llu streaming bytes moved in %d steps, a forward and a decode\n",
                unsigned(tp), unsigned(pp), unsigned(dp),
                static_cast<unsigned long long>(streaming_traffic(phased.device)), steps);
}

INSTANTIATE_TEST_SUITE_P(Degrees, SessionPhasedExecution,
                         ::testing::Values(std::tuple{1u, 1u, 1u}, std::tuple{2u, 1u, 1u}, std::tuple{2u, 2u, 2u}));

// Phased execution with recomputation and dropout: the recomputed block runs inside its backward phase.
TEST(SessionPhasedExecutionRecompute, TrainingIsBitIdenticalToOnChip) {
    SessionFixture on_chip("flan-t5-tiny", 0.1f, 2, 2, 1, 1, FT5_MEMORY_ON_CHIP);
    SessionFixture phased("flan-t5-tiny", 0.1f, 2, 2, 1, 1, FT5_MEMORY_STREAMING, 1, FT5_MEMORY_STREAMING);
    ASSERT_NE(phased.session, nullptr);
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.safetensors"));
    const JsonValue meta = parse_json(read_text(fixture_path("flan-t5-tiny", "reference_adamw_trajectory.json")));
    for (int s = 0; s < 4; ++s) {
        const auto [loss_a, norm_a] = train_step(on_chip, ref, meta, s);
        const auto [loss_b, norm_b] = train_step(phased, ref, meta, s);
        EXPECT_EQ(loss_b, loss_a) << "step " << s;
        EXPECT_EQ(norm_b, norm_a) << "step " << s;
    }
    for (const auto& name : on_chip.param_names()) {
        EXPECT_EQ(phased.read(name, FT5_SLOT_WEIGHT), on_chip.read(name, FT5_SLOT_WEIGHT)) << name;
    }
    for (uint32_t ipu = 0; ipu < 2; ++ipu) EXPECT_EQ(memory_report(phased.device, ipu).on_chip_used_bytes, 0u);
}

// Zeroing gradients that live in streaming memory writes every one of their bytes over the streaming link: a quarter
// of what the phased plan keeps there (weights, gradients and both moments are the same size).
TEST(SessionPhasedExecutionTraffic, ZeroingStreamedGradientsIsCountedAsStreamingTraffic) {
    SessionFixture phased("flan-t5-tiny", -1.0f, 1, 2, 1, 1, FT5_MEMORY_STREAMING, 0, FT5_MEMORY_STREAMING);
    uint64_t streamed = 0;
    for (uint32_t ipu = 0; ipu < 2; ++ipu) streamed += memory_report(phased.device, ipu).streaming_used_bytes;
    ASSERT_GT(streamed, 0u);
    ASSERT_EQ(ft5_device_reset_traffic(phased.device), FT5_OK);
    ASSERT_EQ(ft5_session_zero_gradients(phased.session), FT5_OK);
    EXPECT_EQ(streaming_traffic(phased.device), streamed / 4);
}
