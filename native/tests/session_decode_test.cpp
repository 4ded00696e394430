// Incremental decoding with the key/value cache: greedy ids against the fixtures (including EOS and the
// pad fill of finished rows), cached against uncached logits, and beam-style row reordering.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "t5_session_fixture.h"

using namespace ft5::test;

namespace {

struct Prompts {
    uint32_t batch = 0, src_len = 0;
    std::vector<int32_t> ids, mask;
};

Prompts prompts(const SafetensorsFile& ref) {
    Prompts p;
    const auto& ids = ref.at("gen_input_ids");
    p.batch = uint32_t(ids.shape[0]);
    p.src_len = uint32_t(ids.shape[1]);
    p.ids = ids.i32();
    p.mask = ref.at("gen_attention_mask").i32();
    return p;
}

int32_t argmax(const float* row, int64_t n) { return int32_t(std::max_element(row, row + n) - row); }

// Greedy search as transformers does it: rows that emitted EOS continue with pad; stop when all are done.
std::vector<std::vector<int32_t>> greedy(SessionFixture& fx, const Prompts& p, uint32_t max_new,
                                         std::vector<std::vector<float>>* step_logits = nullptr) {
    const int64_t V = fx.vocab();
    EXPECT_EQ(ft5_session_decode_begin(fx.session, p.ids.data(), p.mask.data(), p.batch, p.src_len, max_new), FT5_OK)
        << ft5_last_error();
    std::vector<std::vector<int32_t>> seq(p.batch, std::vector<int32_t>{fx.desc.decoder_start_token_id});
    std::vector<bool> running(p.batch, true);
    std::vector<int32_t> tokens(p.batch, fx.desc.decoder_start_token_id);
    std::vector<float> logits(size_t(p.batch) * size_t(V));
    for (uint32_t t = 0; t < max_new; ++t) {
        EXPECT_EQ(ft5_session_decode_step(fx.session, tokens.data(), logits.data(), logits.size()), FT5_OK)
            << ft5_last_error();
        if (step_logits != nullptr) step_logits->push_back(logits);
        bool any = false;
        for (uint32_t r = 0; r < p.batch; ++r) {
            int32_t next = argmax(logits.data() + r * V, V);
            if (!running[r]) next = fx.desc.pad_token_id;
            if (next == fx.desc.eos_token_id) running[r] = false;
            any = any || running[r];
            seq[r].push_back(next);
            tokens[r] = next;
        }
        if (!any) break;
    }
    EXPECT_EQ(ft5_session_decode_end(fx.session), FT5_OK);
    return seq;
}

void expect_ids(const std::vector<std::vector<int32_t>>& got, const StTensor& want) {
    const auto w = want.i32();
    const auto rows = size_t(want.shape[0]), cols = size_t(want.shape[1]);
    ASSERT_EQ(got.size(), rows);
    size_t mismatches = 0;
    for (size_t r = 0; r < rows; ++r) {
        ASSERT_EQ(got[r].size(), cols) << "row " << r;
        for (size_t c = 0; c < cols; ++c) mismatches += got[r][c] != w[r * cols + c] ? 1 : 0;
    }
    EXPECT_EQ(mismatches, 0u);
}

}  // namespace

class SessionGreedy : public ::testing::TestWithParam<const char*> {};

TEST_P(SessionGreedy, GreedyIdsMatchReference) {
    SessionFixture fx(GetParam());
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const auto want = ref.at("greedy_ids");
    expect_ids(greedy(fx, prompts(ref), uint32_t(want.shape[1] - 1)), want);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionGreedy, ::testing::Values("flan-t5-tiny", "hf-t5-tiny"),
                         [](const auto& param_info) {
                             std::string n = param_info.param;
                             for (auto& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

TEST(SessionDecode, FinetunedModelStopsAtEos) {
    SessionFixture fx("flan-t5-tiny-mnli");
    const SafetensorsFile ref(fixture_path("flan-t5-tiny-mnli", "reference_generation.safetensors"));
    // Every reference row is [0, label, 1]: generation ends once all rows emitted EOS, well before 12 tokens.
    expect_ids(greedy(fx, prompts(ref), 12), ref.at("greedy_ids"));
}

TEST(SessionDecode, CachedLogitsEqualFullForward) {
    SessionFixture fx("flan-t5-tiny");
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const Prompts p = prompts(ref);
    const uint32_t steps = 8;
    std::vector<std::vector<float>> cached;
    const auto seq = greedy(fx, p, steps, &cached);
    ASSERT_EQ(cached.size(), steps);
    // Uncached: the whole prefix through the decoder at once; position t's logits = step t's.
    OwnedBatch b;
    b.batch = p.batch;
    b.src_len = p.src_len;
    b.tgt_len = steps;
    b.input_ids = p.ids;
    b.attention_mask = p.mask;
    for (uint32_t r = 0; r < p.batch; ++r)
        b.decoder_input_ids.insert(b.decoder_input_ids.end(), seq[r].begin(), seq[r].begin() + steps);
    const ft5_batch view = b.view();
    const int64_t V = fx.vocab();
    std::vector<float> full(size_t(p.batch) * steps * size_t(V));
    ASSERT_EQ(ft5_session_forward(fx.session, &view, full.data(), full.size(), nullptr, 0, nullptr), FT5_OK)
        << ft5_last_error();
    double worst = 0;
    for (uint32_t t = 0; t < steps; ++t) {
        std::vector<float> uncached;
        for (uint32_t r = 0; r < p.batch; ++r) {
            const float* row = full.data() + (size_t(r) * steps + t) * size_t(V);
            uncached.insert(uncached.end(), row, row + V);
        }
        worst = std::max(worst, rel_err(cached[t], uncached));
    }
    std::printf("cached vs uncached logits: worst rel err %.3e over %u steps\n", worst, steps);
    EXPECT_LE(worst, 1e-5);
}

TEST(SessionDecode, ReorderDuplicatesAndPermutesRows) {
    SessionFixture fx("flan-t5-tiny");
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const Prompts p = prompts(ref);
    const int64_t V = fx.vocab();
    const uint32_t B = 3;
    Prompts small{B, p.src_len, std::vector<int32_t>(p.ids.begin(), p.ids.begin() + B * p.src_len),
                  std::vector<int32_t>(p.mask.begin(), p.mask.begin() + B * p.src_len)};
    std::vector<int32_t> tok{0, 0, 0};
    std::vector<float> l0(B * size_t(V)), l1(B * size_t(V));
    ASSERT_EQ(ft5_session_decode_begin(fx.session, small.ids.data(), small.mask.data(), B, p.src_len, 4), FT5_OK);
    ASSERT_EQ(ft5_session_decode_step(fx.session, tok.data(), l0.data(), l0.size()), FT5_OK);
    std::vector<int32_t> t2{5, 7, 9};
    ASSERT_EQ(ft5_session_decode_step(fx.session, t2.data(), l1.data(), l1.size()), FT5_OK);
    std::vector<float> ref_next(B * size_t(V));
    std::vector<int32_t> t3{11, 13, 17};
    ASSERT_EQ(ft5_session_decode_step(fx.session, t3.data(), ref_next.data(), ref_next.size()), FT5_OK);
    // Replay with a reorder before the third step: rows {2, 0, 0, 1}.
    ASSERT_EQ(ft5_session_decode_begin(fx.session, small.ids.data(), small.mask.data(), B, p.src_len, 4), FT5_OK);
    ASSERT_EQ(ft5_session_decode_step(fx.session, tok.data(), l0.data(), l0.size()), FT5_OK);
    ASSERT_EQ(ft5_session_decode_step(fx.session, t2.data(), l1.data(), l1.size()), FT5_OK);
    const std::vector<int32_t> rows{2, 0, 0, 1};
    ASSERT_EQ(ft5_session_decode_reorder(fx.session, rows.data(), uint32_t(rows.size())), FT5_OK) << ft5_last_error();
    std::vector<int32_t> t3r{17, 11, 11, 13};
    std::vector<float> got(rows.size() * size_t(V));
    std::vector<float> too_small(B * size_t(V));
    EXPECT_EQ(ft5_session_decode_step(fx.session, t3r.data(), too_small.data(), too_small.size()),
              FT5_ERR_INVALID_ARGUMENT)
        << "after the reorder the decode has 4 rows";
    // With the token count (ABI 1.1) the step checks it against the new number of rows.
    EXPECT_EQ(ft5_session_decode_step_v2(fx.session, t3r.data(), B, got.data(), got.size()), FT5_ERR_INVALID_ARGUMENT)
        << "after the reorder the decode takes 4 tokens";
    ASSERT_EQ(ft5_session_decode_step_v2(fx.session, t3r.data(), t3r.size(), got.data(), got.size()), FT5_OK)
        << ft5_last_error();
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::vector<float> a(got.begin() + i * V, got.begin() + (i + 1) * V);
        const std::vector<float> e(ref_next.begin() + rows[i] * V, ref_next.begin() + (rows[i] + 1) * V);
        EXPECT_LE(rel_err(a, e), 1e-6) << "row " << i;
    }
    // The cache holds 4 tokens: a fifth step is refused, not overrun.
    EXPECT_EQ(ft5_session_decode_step(fx.session, t3r.data(), got.data(), got.size()), FT5_OK);
    EXPECT_EQ(ft5_session_decode_step(fx.session, t3r.data(), got.data(), got.size()), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(ft5_last_error()).find("max_steps"), std::string::npos) << ft5_last_error();
    EXPECT_EQ(ft5_session_decode_end(fx.session), FT5_OK);
}

TEST(SessionDecode, ADecodeGoesOnWhenAnotherShapeCompilesTheEngineAgain) {
    SessionFixture fx("flan-t5-tiny");
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const Prompts p = prompts(ref);
    const int64_t V = fx.vocab();
    const std::vector<int32_t> first(p.batch, fx.desc.decoder_start_token_id), second(p.batch, 5);
    std::vector<float> logits(size_t(p.batch) * size_t(V)), want(logits.size());
    ASSERT_EQ(ft5_session_decode_begin(fx.session, p.ids.data(), p.mask.data(), p.batch, p.src_len, 4), FT5_OK);
    ASSERT_EQ(ft5_session_decode_step(fx.session, first.data(), logits.data(), logits.size()), FT5_OK);
    ASSERT_EQ(ft5_session_decode_step(fx.session, second.data(), want.data(), want.size()), FT5_OK);

    ASSERT_EQ(ft5_session_decode_begin(fx.session, p.ids.data(), p.mask.data(), p.batch, p.src_len, 4), FT5_OK);
    ASSERT_EQ(ft5_session_decode_step(fx.session, first.data(), logits.data(), logits.size()), FT5_OK);
    uint32_t before = 0, after = 0;
    ASSERT_EQ(ft5_session_engine_compilations(fx.session, &before), FT5_OK);
    // A forward pass of a shape not run before: the engine is compiled again, and its caches start empty.
    OwnedBatch b{5, 100, 3, std::vector<int32_t>(5 * 100, 4), {}, std::vector<int32_t>(5 * 3, 0), {}};
    const ft5_batch view = b.view();
    ASSERT_EQ(ft5_session_forward(fx.session, &view, nullptr, 0, nullptr, 0, nullptr), FT5_OK) << ft5_last_error();
    ASSERT_EQ(ft5_session_engine_compilations(fx.session, &after), FT5_OK);
    ASSERT_EQ(after, before + 1);
    std::vector<float> got(logits.size());
    ASSERT_EQ(ft5_session_decode_step(fx.session, second.data(), got.data(), got.size()), FT5_OK) << ft5_last_error();
    // The caches are recomputed by the same programs from the same prompts and tokens: the same logits.
    EXPECT_EQ(got, want);
    EXPECT_EQ(ft5_session_decode_end(fx.session), FT5_OK);
}

// Under pipeline parallelism each decoder layer decodes on its stage, beside its cache: a token's step moves only
// the residual stream [rows, d_model] between the stages, once per crossing (flan-t5-tiny: 2 + 2 layers; with 2
// stages the decoder and the untied LM head sit on stage 1, so the token's embedding crosses once; with 4 stages
// the decoder's two layers are on stages 2 and 3: two crossings).
TEST(SessionDecode, APipelinedStepMovesOnlyTheResidualStreamBetweenStages) {
    for (const uint32_t pp : {2u, 4u}) {
        SessionFixture fx("flan-t5-tiny", -1.0f, 2, 1, pp, 1);
        const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
        const Prompts p = prompts(ref);
        const int64_t V = fx.vocab();
        ASSERT_EQ(ft5_session_decode_begin(fx.session, p.ids.data(), p.mask.data(), p.batch, p.src_len, 4), FT5_OK)
            << ft5_last_error();
        std::vector<int32_t> tokens(p.batch, fx.desc.decoder_start_token_id);
        std::vector<float> logits(size_t(p.batch) * size_t(V));
        ASSERT_EQ(ft5_session_decode_step(fx.session, tokens.data(), logits.data(), logits.size()), FT5_OK);
        ASSERT_EQ(ft5_device_reset_traffic(fx.device), FT5_OK);
        ASSERT_EQ(ft5_session_decode_step(fx.session, tokens.data(), logits.data(), logits.size()), FT5_OK);
        ft5_traffic_report traffic{};
        traffic.struct_size = sizeof(traffic);
        ASSERT_EQ(ft5_device_traffic_report(fx.device, &traffic), FT5_OK);
        ASSERT_EQ(ft5_session_decode_end(fx.session), FT5_OK);
        const uint64_t crossings = pp == 2 ? 1 : 2;
        // the decode's rows are the session's bucket of the prompts' rows
        uint32_t rows = 1;
        while (rows < p.batch) rows <<= 1;
        const uint64_t residual = uint64_t(rows) * fx.desc.d_model * sizeof(float);
        std::printf("[pp %u] one decode step: %llu bytes between IPUs; the residual stream is %llu bytes\n",
                    unsigned(pp), static_cast<unsigned long long>(traffic.inter_ipu_bytes),
                    static_cast<unsigned long long>(residual));
        EXPECT_EQ(traffic.inter_ipu_bytes, crossings * residual) << "pp " << pp;
    }
}

// A declared decode shape is compiled at its own size: a decode that fits it (rows, prompt length, max_steps) runs on
// it, and a beam's reorder to more rows runs on the smallest declared shape that holds them, compiling nothing. The
// logits are those of the undeclared decode on its power-of-two bucket: padding rows and prompt positions change
// nothing.
TEST(SessionDecode, ADecodeRunsOnTheSmallestDeclaredDecodeShapeThatHoldsIt) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const Prompts all = prompts(ref);
    const uint32_t B = 3, beams = 5, steps = 3;
    Prompts p{B, all.src_len, std::vector<int32_t>(all.ids.begin(), all.ids.begin() + B * all.src_len),
              std::vector<int32_t>(all.mask.begin(), all.mask.begin() + B * all.src_len)};
    uint32_t src = p.src_len + 1;
    if ((src & (src - 1)) == 0) ++src;  // not a power of two: no bucket has this length
    auto decode = [&](SessionFixture& fx) {
        const int64_t V = fx.vocab();
        std::vector<float> out;
        std::vector<float> logits(size_t(beams) * size_t(V));
        EXPECT_EQ(ft5_session_decode_begin(fx.session, p.ids.data(), p.mask.data(), B, p.src_len, steps), FT5_OK)
            << ft5_last_error();
        const std::vector<int32_t> start(B, fx.desc.decoder_start_token_id);
        EXPECT_EQ(ft5_session_decode_step(fx.session, start.data(), logits.data(), size_t(B) * size_t(V)), FT5_OK);
        out.insert(out.end(), logits.begin(), logits.begin() + B * V);
        const std::vector<int32_t> rows{0, 1, 2, 0, 1};
        EXPECT_EQ(ft5_session_decode_reorder(fx.session, rows.data(), beams), FT5_OK) << ft5_last_error();
        const std::vector<int32_t> next{5, 7, 9, 11, 13};
        EXPECT_EQ(ft5_session_decode_step(fx.session, next.data(), logits.data(), logits.size()), FT5_OK);
        out.insert(out.end(), logits.begin(), logits.end());
        EXPECT_EQ(ft5_session_decode_end(fx.session), FT5_OK);
        return out;
    };
    auto count = [](SessionFixture& fx, ft5_status (*of)(const ft5_session*, uint32_t*)) {
        uint32_t n = 0;
        EXPECT_EQ(of(fx.session, &n), FT5_OK);
        return n;
    };

    SessionFixture declared("flan-t5-tiny");
    ft5_program_shape shapes[2];
    for (ft5_program_shape& s : shapes) {
        ft5_program_shape_init(&s);
        s.kind = FT5_PROGRAM_DECODE;
        s.src_len = src;
        s.tgt_len = steps;
    }
    shapes[0].batch = B;
    shapes[1].batch = beams + 1;
    ASSERT_EQ(ft5_session_prepare(declared.session, shapes, 2), FT5_OK) << ft5_last_error();
    const uint32_t programs = count(declared, ft5_session_programs_built);
    const uint32_t compilations = count(declared, ft5_session_engine_compilations);
    const std::vector<float> on_declared = decode(declared);
    EXPECT_EQ(count(declared, ft5_session_programs_built), programs) << "both decodes fit a declared shape";
    EXPECT_EQ(count(declared, ft5_session_engine_compilations), compilations);

    SessionFixture bucketed("flan-t5-tiny");
    const uint32_t bucketed_programs = count(bucketed, ft5_session_programs_built);
    const std::vector<float> on_buckets = decode(bucketed);
    EXPECT_EQ(count(bucketed, ft5_session_programs_built), bucketed_programs + 2) << "4- and 8-row buckets";
    const double err = rel_err(on_declared, on_buckets);
    std::printf("declared %u x %u and %u x %u decodes against their buckets: rel err %.3e\n", B, src, beams + 1, src,
                err);
    // Measured: 0 under OpenBLAS's SkylakeX and Sandybridge kernels, 3.3e-7 under Haswell (its sgemm blocks the
    // padded and unpadded row counts differently: a few fp32 roundings). Bound 3x that.
    EXPECT_LE(err, 1e-6);
}
