// The programs a session compiles: every plan (tensor, pipeline and data parallelism, recomputation, phased
// execution) runs on the T5 builder, one engine holding a program set per batch shape bucket, and reports the
// emulated engine's cycle estimate for what it ran.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ft5/ft5.h"

namespace {

ft5_model_desc small_model() {
    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = 32;
    m.d_model = 8;
    m.d_kv = 4;
    m.d_ff = 16;
    m.num_heads = 2;
    m.num_layers = 1;
    m.num_decoder_layers = 1;
    m.feed_forward_proj = FT5_FFN_RELU;
    return m;
}

struct Created {
    ft5_device* device = nullptr;
    ft5_session* session = nullptr;
    ft5_status status = FT5_OK;
    std::string error;

    Created(uint32_t tp, uint32_t pp = 1, uint32_t recompute = 0,
            ft5_memory_location weights_location = FT5_MEMORY_ON_CHIP) {
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = 1;
        dd.num_ipus = tp * pp;
        EXPECT_EQ(ft5_device_create(&dd, &device), FT5_OK) << ft5_last_error();
        const ft5_model_desc m = small_model();
        ft5_plan_desc plan;
        ft5_plan_desc_init(&plan);
        plan.tensor_parallel = tp;
        plan.pipeline_stages = pp;
        plan.recompute = recompute;
        plan.weights_location = weights_location;
        plan.optimizer_location = weights_location;  // phased execution streams the optimizer state as well
        status = ft5_session_create(device, &m, &plan, &session);
        if (status != FT5_OK) error = ft5_last_error();
    }
    ~Created() {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
    Created(const Created&) = delete;
    Created& operator=(const Created&) = delete;

    // One forward pass of rows x 3 -> 2 tokens.
    void forward(uint32_t rows) {
        std::vector<int32_t> ids(rows * 3, 4), dec(rows * 2, 0);
        ft5_batch b;
        ft5_batch_init(&b);
        b.batch = rows;
        b.src_len = 3;
        b.tgt_len = 2;
        b.input_ids = ids.data();
        b.decoder_input_ids = dec.data();
        EXPECT_EQ(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_OK) << ft5_last_error();
    }

    // The device's estimated cycles for one forward pass of rows x 3 -> 2 tokens.
    uint64_t cycles_of_a_forward(uint32_t rows) {
        EXPECT_EQ(ft5_device_reset_traffic(device), FT5_OK);
        forward(rows);
        ft5_traffic_report r;
        r.struct_size = sizeof(r);
        EXPECT_EQ(ft5_device_traffic_report(device, &r), FT5_OK);
        return r.estimated_cycles;
    }

    // Program sets after one forward pass: the one built at creation and one for the batch's shape.
    uint32_t programs_after_a_forward() {
        forward(2);
        return programs();
    }
    uint32_t programs() {
        uint32_t n = 99;
        EXPECT_EQ(ft5_session_programs_built(session, &n), FT5_OK);
        return n;
    }
    uint32_t compilations() {
        uint32_t n = 99;
        EXPECT_EQ(ft5_session_engine_compilations(session, &n), FT5_OK);
        return n;
    }
};

TEST(SessionPrograms, AOneIpuPlanCompilesOneProgramAtCreationAndOnePerBatchShape) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    uint32_t at_creation = 99;
    ASSERT_EQ(ft5_session_programs_built(s.session, &at_creation), FT5_OK);
    EXPECT_EQ(at_creation, 1u);
    EXPECT_EQ(s.programs_after_a_forward(), 2u);
    s.forward(2);  // the same bucket: nothing new to compile
    EXPECT_EQ(s.programs(), 2u);
}

TEST(SessionPrograms, OneEngineHoldsEveryShapesProgramsAndCompilesAgainForANewShape) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    EXPECT_EQ(s.compilations(), 1u);
    s.forward(2);
    EXPECT_EQ(s.compilations(), 2u);
    s.forward(16);
    EXPECT_EQ(s.programs(), 3u);
    EXPECT_EQ(s.compilations(), 3u);
    // Both shapes' programs are in the engine now: going back and forth compiles nothing.
    s.forward(2);
    s.forward(16);
    EXPECT_EQ(s.programs(), 3u);
    EXPECT_EQ(s.compilations(), 3u);
}

ft5_program_shape batch_shape(uint32_t rows) {
    ft5_program_shape s;
    ft5_program_shape_init(&s);
    s.batch = rows;
    s.src_len = 3;
    s.tgt_len = 2;
    return s;
}

TEST(SessionPrograms, PreparedShapesAreCompiledTogetherOnceAndTheirCallsCompileNothing) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    ft5_program_shape decode = batch_shape(2);
    decode.kind = FT5_PROGRAM_DECODE;
    const std::vector<ft5_program_shape> shapes{batch_shape(2), batch_shape(16), decode};
    ASSERT_EQ(ft5_session_prepare(s.session, shapes.data(), shapes.size()), FT5_OK) << ft5_last_error();
    EXPECT_EQ(s.compilations(), 2u);
    EXPECT_EQ(s.programs(), 4u);
    s.forward(2);
    s.forward(16);
    const std::vector<int32_t> ids(2 * 3, 4);
    ASSERT_EQ(ft5_session_decode_begin(s.session, ids.data(), nullptr, 2, 3, 2), FT5_OK) << ft5_last_error();
    EXPECT_EQ(ft5_session_decode_end(s.session), FT5_OK);
    EXPECT_EQ(s.compilations(), 2u);
    EXPECT_EQ(s.programs(), 4u);
    // Shapes it holds already: nothing to compile.
    ASSERT_EQ(ft5_session_prepare(s.session, shapes.data(), shapes.size()), FT5_OK) << ft5_last_error();
    EXPECT_EQ(s.compilations(), 2u);
}

// A declared shape is compiled at its own lengths, not rounded to a bucket: batches it holds run on it padded (the
// smallest that holds them), and only a batch that none holds compiles its power-of-two bucket.
TEST(SessionPrograms, ABatchRunsOnTheSmallestDeclaredShapeThatHoldsIt) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    ft5_program_shape five = batch_shape(3), six = batch_shape(6);
    five.src_len = 5;
    six.src_len = 6;
    const std::vector<ft5_program_shape> shapes{five, six};
    ASSERT_EQ(ft5_session_prepare(s.session, shapes.data(), shapes.size()), FT5_OK) << ft5_last_error();
    EXPECT_EQ(s.programs(), 3u);
    const uint32_t compiled = s.compilations();
    const uint64_t on_five = s.cycles_of_a_forward(2);  // 2 x 3 -> 2 fits 3 x 5 -> 2 and 6 x 6 -> 2
    const uint64_t on_six = s.cycles_of_a_forward(5);   // 5 rows fit 6 x 6 -> 2 only
    EXPECT_EQ(s.compilations(), compiled) << "every batch so far fits a declared shape";
    EXPECT_LT(on_five, on_six) << "the 2-row batch runs on the smaller declared program";
    EXPECT_EQ(s.cycles_of_a_forward(3), on_five) << "3 rows fit 3 x 5 -> 2 exactly";
    s.forward(7);  // no declared shape holds 7 rows: its bucket, 8 x 4 -> 2, is compiled
    EXPECT_EQ(s.programs(), 4u);
    EXPECT_EQ(s.compilations(), compiled + 1);
}

TEST(SessionPrograms, ABatchRunsOnItsOwnBucketWhateverRanBefore) {
    Created fresh(1), after_a_larger(1);
    ASSERT_EQ(fresh.status, FT5_OK) << fresh.error;
    ASSERT_EQ(after_a_larger.status, FT5_OK) << after_a_larger.error;
    after_a_larger.forward(8);  // compiles the 8 x 4 -> 2 bucket, which 3 rows would fit
    const uint32_t programs = after_a_larger.programs();
    // 3 rows run on their own 4 x 4 -> 2 bucket in both sessions: a resumed run repeats its batches bit for bit
    EXPECT_EQ(after_a_larger.cycles_of_a_forward(3), fresh.cycles_of_a_forward(3));
    EXPECT_EQ(after_a_larger.programs(), programs + 1);
}

TEST(SessionPrograms, AnInvalidPreparedShapeIsNamedAndChangesNothing) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    std::vector<ft5_program_shape> shapes{batch_shape(2), batch_shape(2)};
    shapes[1].kind = 7;
    EXPECT_EQ(ft5_session_prepare(s.session, shapes.data(), shapes.size()), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(ft5_last_error()).find("shapes[1].kind is 7"), std::string::npos) << ft5_last_error();
    shapes[1] = batch_shape(0);
    EXPECT_EQ(ft5_session_prepare(s.session, shapes.data(), shapes.size()), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(ft5_last_error()).find("shapes[1].batch is 0"), std::string::npos) << ft5_last_error();
    EXPECT_EQ(ft5_session_prepare(s.session, nullptr, 1), FT5_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(s.compilations(), 1u);
    EXPECT_EQ(s.programs(), 1u);
}

TEST(SessionPrograms, EveryPlanRunsCompiledPrograms) {
    Created tp2(2);
    ASSERT_EQ(tp2.status, FT5_OK) << tp2.error;
    EXPECT_EQ(tp2.programs_after_a_forward(), 2u);
    Created pp2(1, 2, 1);  // two pipeline stages, recomputation
    ASSERT_EQ(pp2.status, FT5_OK) << pp2.error;
    EXPECT_EQ(pp2.programs_after_a_forward(), 2u);
    Created phased(1, 1, 0, FT5_MEMORY_STREAMING);
    ASSERT_EQ(phased.status, FT5_OK) << phased.error;
    EXPECT_EQ(phased.programs_after_a_forward(), 2u);
}

TEST(SessionPrograms, TheEnginesCycleEstimateIsReportedPerProgram) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    const uint64_t two_rows = s.cycles_of_a_forward(2);
    EXPECT_GT(two_rows, 0u);
    EXPECT_EQ(s.cycles_of_a_forward(2), two_rows);  // the same program: the same estimate
    EXPECT_GT(s.cycles_of_a_forward(16), two_rows);
}

}  // namespace

// A decode program's key/value caches (and the biases, position and parents its steps read) live from one run to the
// next, so the compiled engine holds them for its whole life: the session's on-chip ledger reserves them with the
// engine, one set per declared decode shape. small_model: 1 decoder layer, 2 heads of d_kv 4, fp32.
TEST(SessionPrograms, EachDecodeProgramsCachesAreReservedWhileTheEngineLives) {
    Created s(1);
    ASSERT_EQ(s.status, FT5_OK) << s.error;
    auto used = [&] {
        ft5_memory_report r;
        r.struct_size = sizeof(r);
        EXPECT_EQ(ft5_device_memory_report(s.device, 0, &r), FT5_OK);
        return r.on_chip_used_bytes;
    };
    auto decode = [](uint32_t rows, uint32_t src_len, uint32_t max_steps) {
        ft5_program_shape d = batch_shape(rows);
        d.kind = FT5_PROGRAM_DECODE;
        d.src_len = src_len;
        d.tgt_len = max_steps;
        return d;
    };
    // rows b, prompt s, steps t: self k, v 2 * (b * 2 heads) * t * 4 + cross k, v 2 * (b * 2) * s * 4, the cross
    // bias b * s, the self bias table 2 * t * t, the position and the b parents; 4 bytes each.
    auto caches = [](uint64_t b, uint64_t src, uint64_t t) {
        return 4 * (2 * (b * 2) * t * 4 + 2 * (b * 2) * src * 4 + b * src + 2 * t * t + 1 + b);
    };
    const uint64_t before = used();
    const ft5_program_shape first = decode(2, 3, 4);
    ASSERT_EQ(ft5_session_prepare(s.session, &first, 1), FT5_OK) << ft5_last_error();
    EXPECT_EQ(used() - before, caches(2, 3, 4));
    const ft5_program_shape second = decode(3, 5, 6);
    ASSERT_EQ(ft5_session_prepare(s.session, &second, 1), FT5_OK) << ft5_last_error();
    EXPECT_EQ(used() - before, caches(2, 3, 4) + caches(3, 5, 6)) << "each declared decode keeps its own";
    // A decode in progress and ended changes nothing: the caches are the engine's.
    const std::vector<int32_t> ids(2 * 3, 4);
    ASSERT_EQ(ft5_session_decode_begin(s.session, ids.data(), nullptr, 2, 3, 4), FT5_OK) << ft5_last_error();
    EXPECT_EQ(ft5_session_decode_end(s.session), FT5_OK);
    EXPECT_EQ(used() - before, caches(2, 3, 4) + caches(3, 5, 6));
}
