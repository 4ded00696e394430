// Error paths of every ft5_session_* export: NULL pointers, destroyed handles, mismatched counts, ids and
// indices out of range, unsupported plans, and an arena too small for the model. Each returns a status
// with a message; none crashes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "t5_session_fixture.h"

namespace {

// A small model (vocab 64, d 16, 2 heads x 4 = 8 != d, 1 + 2 layers, relu) that builds in milliseconds.
ft5_model_desc small_model() {
    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = 64;
    m.d_model = 16;
    m.d_kv = 4;
    m.d_ff = 32;
    m.num_heads = 2;
    m.num_layers = 1;
    m.num_decoder_layers = 2;
    m.feed_forward_proj = FT5_FFN_RELU;
    return m;
}

class SessionErrors : public ::testing::Test {
protected:
    void SetUp() override {
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = 1;
        ASSERT_EQ(ft5_device_create(&dd, &device), FT5_OK);
        model = small_model();
        ft5_plan_desc_init(&plan);
        ASSERT_EQ(ft5_session_create(device, &model, &plan, &session), FT5_OK) << ft5_last_error();
        tokens = ft5::test::OwnedBatch{2, 3, 2, std::vector<int32_t>(2 * 3, 5), {}, std::vector<int32_t>(2 * 2, 0),
                                      std::vector<int32_t>(2 * 2, 7)};
        batch = tokens.view();
        ASSERT_EQ(ft5_session_create(device, &model, &plan, &dead), FT5_OK);
        ft5_session_destroy(dead);
    }
    void TearDown() override {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
    // The status, and a message that mentions `needle`.
    void expect_error(ft5_status got, ft5_status want, const std::string& needle) {
        EXPECT_EQ(got, want) << ft5_last_error();
        const std::string msg = ft5_last_error();
        EXPECT_FALSE(msg.empty());
        EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
    }

    ft5_device* device = nullptr;
    ft5_session* session = nullptr;
    ft5_session* dead = nullptr;  // destroyed handle
    ft5_model_desc model{};
    ft5_plan_desc plan{};
    ft5_batch batch{};
    ft5::test::OwnedBatch tokens;  // batch's arrays
};

}  // namespace

TEST_F(SessionErrors, CreateRejectsBadArguments) {
    ft5_session* s = nullptr;
    expect_error(ft5_session_create(device, &model, &plan, nullptr), FT5_ERR_INVALID_ARGUMENT, "out_session");
    expect_error(ft5_session_create(nullptr, &model, &plan, &s), FT5_ERR_INVALID_HANDLE, "device");
    expect_error(ft5_session_create(device, nullptr, &plan, &s), FT5_ERR_INVALID_ARGUMENT, "model");
    expect_error(ft5_session_create(device, &model, nullptr, &s), FT5_ERR_INVALID_ARGUMENT, "plan");
    EXPECT_EQ(s, nullptr);
    ft5_model_desc m = model;
    m.vocab_size = 0;
    expect_error(ft5_session_create(device, &m, &plan, &s), FT5_ERR_INVALID_ARGUMENT, "vocab_size");
    m = model;
    m.eos_token_id = 64;
    expect_error(ft5_session_create(device, &m, &plan, &s), FT5_ERR_INVALID_ARGUMENT, "eos_token_id");
    m = model;
    m.dropout_rate = 1.0f;
    expect_error(ft5_session_create(device, &m, &plan, &s), FT5_ERR_INVALID_ARGUMENT, "dropout_rate");
    m = model;
    m.tie_word_embeddings = 1;
    m.embedding_layout = FT5_EMBEDDING_SEPARATE;
    expect_error(ft5_session_create(device, &m, &plan, &s), FT5_ERR_INVALID_ARGUMENT, "tie_word_embeddings");
    m = model;
    m.struct_size = 0;
    expect_error(ft5_session_create(device, &m, &plan, &s), FT5_ERR_INVALID_ARGUMENT, "struct_size");
}

TEST_F(SessionErrors, PlansThisBuildCannotPlaceAreRejected) {
    ft5_session* s = nullptr;
    // The default device has one IPU: any degree above 1 needs more.
    for (int field = 0; field < 3; ++field) {
        ft5_plan_desc p = plan;
        (field == 0 ? p.tensor_parallel : field == 1 ? p.pipeline_stages : p.replicas) = 2;
        expect_error(ft5_session_create(device, &model, &p, &s), FT5_ERR_INVALID_ARGUMENT, "the device has 1");
    }
    ft5_plan_desc p = plan;
    p.tensor_parallel = 0;
    expect_error(ft5_session_create(device, &model, &p, &s), FT5_ERR_INVALID_ARGUMENT, "tensor_parallel");
    p = plan;
    p.weights_location = FT5_MEMORY_STREAMING;  // phased execution streams the optimizer state too
    expect_error(ft5_session_create(device, &model, &p, &s), FT5_ERR_NOT_SUPPORTED, "optimizer_location");
    p = plan;
    p.recompute = 2;
    expect_error(ft5_session_create(device, &model, &p, &s), FT5_ERR_INVALID_ARGUMENT, "recompute");
    p = plan;
    p.weights_only = 2;
    expect_error(ft5_session_create(device, &model, &p, &s), FT5_ERR_INVALID_ARGUMENT, "weights_only");
    EXPECT_EQ(s, nullptr);
}

TEST_F(SessionErrors, TooSmallArenaIsOutOfMemoryAndTheDeviceStaysUsable) {
    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    dd.tiles_per_ipu = 4;
    dd.bytes_per_tile = 4096;  // 16 KiB: the small model's weights alone need ~60 KiB (x4 with Adam state)
    ft5_device* tiny = nullptr;
    ASSERT_EQ(ft5_device_create(&dd, &tiny), FT5_OK);
    ft5_session* s = nullptr;
    expect_error(ft5_session_create(tiny, &model, &plan, &s), FT5_ERR_OUT_OF_MEMORY, "IPU");
    EXPECT_EQ(s, nullptr);
    ft5_memory_report r{};
    r.struct_size = sizeof(r);
    ASSERT_EQ(ft5_device_memory_report(tiny, 0, &r), FT5_OK);
    EXPECT_EQ(r.on_chip_used_bytes, 0u) << "a failed create must release what it reserved";
    ft5_device_destroy(tiny);
}

// A session on an IPU of 16 tiles x 64 KiB: room for the small model's state, not for long batches' activations.
struct OnASmallIpu {
    ft5_device* device = nullptr;
    ft5_session* session = nullptr;

    OnASmallIpu(const ft5_model_desc& model, const ft5_plan_desc& plan) {
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.tiles_per_ipu = 16;
        dd.bytes_per_tile = 64 * 1024;
        dd.num_threads = 1;
        EXPECT_EQ(ft5_device_create(&dd, &device), FT5_OK) << ft5_last_error();
        EXPECT_EQ(ft5_session_create(device, &model, &plan, &session), FT5_OK) << ft5_last_error();
    }
    ~OnASmallIpu() {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
    OnASmallIpu(const OnASmallIpu&) = delete;
    OnASmallIpu& operator=(const OnASmallIpu&) = delete;
};

// The IPU model has the device's tiles and tile memory: the state fits in 1 MiB, a long batch's activations do not,
// and that is the engine's out-of-memory error naming the shape, after which short batches run on the same state.
TEST_F(SessionErrors, ActivationsBeyondTheIpusMemoryAreOutOfMemoryNamingTheShape) {
    const OnASmallIpu small(model, plan);
    ASSERT_NE(small.session, nullptr);
    ft5_session* s = small.session;
    float loss = 0;
    ASSERT_EQ(ft5_session_forward_backward(s, &batch, 1.0f, &loss), FT5_OK) << ft5_last_error();

    // Encoder self-attention alone holds 32 x 2 heads x 256 x 256 floats (16 MiB).
    const ft5::test::OwnedBatch long_tokens{32, 256, 8, std::vector<int32_t>(32 * 256, 5), {},
                                           std::vector<int32_t>(32 * 8, 0), std::vector<int32_t>(32 * 8, 7)};
    const ft5_batch long_batch = long_tokens.view();
    expect_error(ft5_session_forward_backward(s, &long_batch, 1.0f, &loss), FT5_ERR_OUT_OF_MEMORY,
                 "batch 32 x source 256 x target 8 tokens does not fit on chip");
    EXPECT_NE(std::string(ft5_last_error()).find("Out of memory on IPU 0"), std::string::npos) << ft5_last_error();
    float again = 0;
    EXPECT_EQ(ft5_session_forward_backward(s, &batch, 1.0f, &again), FT5_OK) << ft5_last_error();
    EXPECT_EQ(again, loss);
}

TEST_F(SessionErrors, APreparedShapeBeyondTheIpusMemoryLeavesTheNewSessionRunning) {
    const OnASmallIpu small(model, plan);
    ASSERT_NE(small.session, nullptr);
    ft5_session* s = small.session;
    // Prepared before any state exists: the engine the session had is dropped for the new one's compilation.
    ft5_program_shape big;
    ft5_program_shape_init(&big);
    big.batch = 32;
    big.src_len = 256;
    big.tgt_len = 8;
    expect_error(ft5_session_prepare(s, &big, 1), FT5_ERR_OUT_OF_MEMORY,
                 "batch 32 x source 256 x target 8 tokens does not fit on chip");
    float loss = 0;
    EXPECT_EQ(ft5_session_forward_backward(s, &batch, 1.0f, &loss), FT5_OK) << ft5_last_error();
    EXPECT_TRUE(std::isfinite(loss));
}

TEST_F(SessionErrors, MemoryReportCountsParametersAndFreesActivations) {
    ft5_memory_report r{};
    r.struct_size = sizeof(r);
    ASSERT_EQ(ft5_device_memory_report(device, 0, &r), FT5_OK);
    const uint64_t params_bytes = r.on_chip_used_bytes;
    EXPECT_GT(params_bytes, 0u);
    ASSERT_EQ(ft5_device_reset_peaks(device), FT5_OK);
    float loss = 0;
    ASSERT_EQ(ft5_session_forward_backward(session, &batch, 1.0f, &loss), FT5_OK) << ft5_last_error();
    ASSERT_EQ(ft5_device_memory_report(device, 0, &r), FT5_OK);
    EXPECT_EQ(r.on_chip_used_bytes, params_bytes) << "activations are freed at the end of the call";
    EXPECT_GT(r.on_chip_peak_bytes, params_bytes) << "activations are allocated on the IPU";
}

TEST_F(SessionErrors, DestroyAcceptsNullAndDestroyedHandles) {
    ft5_session_destroy(nullptr);
    ft5_session_destroy(dead);
    SUCCEED();
}

TEST_F(SessionErrors, ParameterTableCallsValidateEverything) {
    uint32_t n = 0;
    expect_error(ft5_session_param_count(nullptr, &n), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_param_count(dead, &n), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_param_count(session, nullptr), FT5_ERR_INVALID_ARGUMENT, "out_count");
    ASSERT_EQ(ft5_session_param_count(session, &n), FT5_OK);
    // shared + (enc: 4 attn + bias + 2 norms + wi + wo) + final + (dec 2 x (8 attn + 3 norms + 2 ffn) + bias) + final + lm_head
    EXPECT_EQ(n, 1u + 9u + 1u + (2u * 13u + 1u) + 1u + 1u);

    ft5_param_info info{};
    info.struct_size = sizeof(info);
    expect_error(ft5_session_param_info(dead, 0, &info), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_param_info(session, n, &info), FT5_ERR_INVALID_ARGUMENT, "out of range");
    expect_error(ft5_session_param_info(session, 0, nullptr), FT5_ERR_INVALID_ARGUMENT, "out_info");
    ft5_param_info bad{};
    expect_error(ft5_session_param_info(session, 0, &bad), FT5_ERR_INVALID_ARGUMENT, "struct_size");

    uint32_t idx = 0;
    expect_error(ft5_session_param_find(session, "no.such.weight", &idx), FT5_ERR_INVALID_ARGUMENT,
                 "no.such.weight");
    expect_error(ft5_session_param_find(session, nullptr, &idx), FT5_ERR_INVALID_ARGUMENT, "name");
    expect_error(ft5_session_param_find(session, "shared.weight", nullptr), FT5_ERR_INVALID_ARGUMENT, "out_index");
    expect_error(ft5_session_param_find(dead, "shared.weight", &idx), FT5_ERR_INVALID_HANDLE, "session");
    ASSERT_EQ(ft5_session_param_find(session, "decoder.block.1.layer.2.DenseReluDense.wi.weight", &idx), FT5_OK);
    ASSERT_EQ(ft5_session_param_info(session, idx, &info), FT5_OK);
    EXPECT_EQ(info.rank, 2u);
    EXPECT_EQ(info.shape[0], 32);
    EXPECT_EQ(info.shape[1], 16);
    EXPECT_EQ(info.shard_dim, 0);
    EXPECT_EQ(info.shard_count, 1u);
    EXPECT_EQ(info.no_weight_decay, 0);
    ASSERT_EQ(ft5_session_param_find(session, "encoder.final_layer_norm.weight", &idx), FT5_OK);
    ASSERT_EQ(ft5_session_param_info(session, idx, &info), FT5_OK);
    EXPECT_EQ(info.shard_dim, -1);
    EXPECT_EQ(info.no_weight_decay, 1);

    std::vector<float> buf(16 * 32, 1.0f);
    ASSERT_EQ(ft5_session_param_find(session, "decoder.block.1.layer.2.DenseReluDense.wi.weight", &idx), FT5_OK);
    expect_error(ft5_session_param_write(dead, idx, FT5_SLOT_WEIGHT, buf.data(), buf.size()), FT5_ERR_INVALID_HANDLE,
                 "session");
    expect_error(ft5_session_param_write(session, n, FT5_SLOT_WEIGHT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_ARGUMENT, "out of range");
    expect_error(ft5_session_param_write(session, idx, FT5_SLOT_WEIGHT, nullptr, buf.size()), FT5_ERR_INVALID_ARGUMENT,
                 "NULL");
    expect_error(ft5_session_param_write(session, idx, FT5_SLOT_WEIGHT, buf.data(), buf.size() - 1),
                 FT5_ERR_INVALID_ARGUMENT, "512 elements");
    expect_error(ft5_session_param_write(session, idx, ft5_param_slot(9), buf.data(), buf.size()),
                 FT5_ERR_INVALID_ARGUMENT, "slot");
    expect_error(ft5_session_param_write(session, idx, FT5_SLOT_GRADIENT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_ARGUMENT, "read-only");
    for (ft5_param_slot slot : {FT5_SLOT_WEIGHT, FT5_SLOT_ADAM_M, FT5_SLOT_ADAM_V}) {
        ASSERT_EQ(ft5_session_param_write(session, idx, slot, buf.data(), buf.size()), FT5_OK);
        std::vector<float> back(buf.size(), 0.0f);
        ASSERT_EQ(ft5_session_param_read(session, idx, slot, back.data(), back.size()), FT5_OK);
        EXPECT_EQ(back, buf);
    }
    expect_error(ft5_session_param_read(dead, idx, FT5_SLOT_WEIGHT, buf.data(), buf.size()), FT5_ERR_INVALID_HANDLE,
                 "session");
    expect_error(ft5_session_param_read(session, idx, FT5_SLOT_WEIGHT, buf.data(), 3), FT5_ERR_INVALID_ARGUMENT,
                 "count is 3");
    expect_error(ft5_session_param_read(session, idx, FT5_SLOT_WEIGHT, nullptr, buf.size()), FT5_ERR_INVALID_ARGUMENT,
                 "NULL");
    expect_error(ft5_session_param_read(session, n + 5, FT5_SLOT_WEIGHT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_ARGUMENT, "out of range");
    ASSERT_EQ(ft5_session_param_write_shard(session, idx, 0, FT5_SLOT_WEIGHT, buf.data(), buf.size()), FT5_OK);
    ASSERT_EQ(ft5_session_param_read_shard(session, idx, 0, FT5_SLOT_WEIGHT, buf.data(), buf.size()), FT5_OK);
    expect_error(ft5_session_param_write_shard(session, idx, 1, FT5_SLOT_WEIGHT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_ARGUMENT, "shard 1");
    expect_error(ft5_session_param_read_shard(session, idx, 1, FT5_SLOT_WEIGHT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_ARGUMENT, "shard 1");
    expect_error(ft5_session_param_read_shard(dead, idx, 0, FT5_SLOT_WEIGHT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_param_write_shard(nullptr, idx, 0, FT5_SLOT_WEIGHT, buf.data(), buf.size()),
                 FT5_ERR_INVALID_HANDLE, "session");
}

TEST_F(SessionErrors, ForwardValidatesTheBatch) {
    std::vector<float> logits(2 * 2 * 64);
    std::vector<float> hidden(2 * 3 * 16);
    float loss = 0;
    ASSERT_EQ(ft5_session_forward(session, &batch, logits.data(), logits.size(), hidden.data(), hidden.size(), &loss),
              FT5_OK)
        << ft5_last_error();
    expect_error(ft5_session_forward(dead, &batch, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_forward(session, nullptr, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "batch");
    expect_error(ft5_session_forward(session, &batch, logits.data(), logits.size() - 1, nullptr, 0, nullptr),
                 FT5_ERR_INVALID_ARGUMENT, "logits_count");
    expect_error(ft5_session_forward(session, &batch, nullptr, 0, hidden.data(), 5, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "encoder_hidden_count");
    ft5_batch b = batch;
    b.batch = 0;
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "batch->batch");
    b = batch;
    b.src_len = 1u << 30;
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "batch->src_len");
    b = batch;
    b.input_ids = nullptr;
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "input_ids");
    b = batch;
    b.decoder_input_ids = nullptr;
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "decoder_input_ids");
    b = batch;
    b.labels = nullptr;
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, &loss), FT5_ERR_INVALID_ARGUMENT, "labels");
    tokens.input_ids[4] = 64;
    expect_error(ft5_session_forward(session, &batch, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "input_ids[1, 1] is 64");
    tokens.input_ids[4] = -1;
    expect_error(ft5_session_forward(session, &batch, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "input_ids[1, 1] is -1");
    tokens.input_ids[4] = 5;
    tokens.decoder_input_ids[3] = 1000;
    expect_error(ft5_session_forward(session, &batch, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "decoder_input_ids[1, 1]");
    tokens.decoder_input_ids[3] = 0;
    tokens.labels[1] = -5;
    expect_error(ft5_session_forward(session, &batch, nullptr, 0, nullptr, 0, &loss), FT5_ERR_INVALID_ARGUMENT,
                 "labels[0, 1] is -5");
    tokens.labels[1] = -100;
    ASSERT_EQ(ft5_session_forward(session, &batch, nullptr, 0, nullptr, 0, &loss), FT5_OK) << "-100 is ignored";
    std::vector<int32_t> mask(6, 1);
    mask[2] = 2;
    b = batch;
    b.attention_mask = mask.data();
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "attention_mask[0, 2] is 2");
    b = batch;
    b.training = 3;
    expect_error(ft5_session_forward(session, &b, nullptr, 0, nullptr, 0, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "training");
}

TEST_F(SessionErrors, TrainingCallsValidate) {
    expect_error(ft5_session_forward_backward(dead, &batch, 1.0f, nullptr), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_forward_backward(session, nullptr, 1.0f, nullptr), FT5_ERR_INVALID_ARGUMENT, "batch");
    ft5_batch b = batch;
    b.labels = nullptr;
    expect_error(ft5_session_forward_backward(session, &b, 1.0f, nullptr), FT5_ERR_INVALID_ARGUMENT, "labels");
    expect_error(ft5_session_forward_backward(session, &batch, INFINITY, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "loss_weight");
    tokens.labels[0] = 64;
    expect_error(ft5_session_forward_backward(session, &batch, 1.0f, nullptr), FT5_ERR_INVALID_ARGUMENT,
                 "labels[0, 0] is 64");
    expect_error(ft5_session_zero_gradients(dead), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_zero_gradients(nullptr), FT5_ERR_INVALID_HANDLE, "session");

    ft5_optimizer_step st;
    ft5_optimizer_step_init(&st);
    ft5_step_result r{};
    r.struct_size = sizeof(r);
    ASSERT_EQ(ft5_session_optimizer_step(session, &st, &r), FT5_OK) << ft5_last_error();
    expect_error(ft5_session_optimizer_step(dead, &st, &r), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_optimizer_step(session, nullptr, &r), FT5_ERR_INVALID_ARGUMENT, "step");
    expect_error(ft5_session_optimizer_step(session, &st, nullptr), FT5_ERR_INVALID_ARGUMENT, "out_result");
    ft5_step_result unsized{};
    expect_error(ft5_session_optimizer_step(session, &st, &unsized), FT5_ERR_INVALID_ARGUMENT, "struct_size");
    ft5_optimizer_step bad = st;
    bad.step = 0;
    expect_error(ft5_session_optimizer_step(session, &bad, &r), FT5_ERR_INVALID_ARGUMENT, "step->step");
    bad = st;
    bad.grad_scale = 0;
    expect_error(ft5_session_optimizer_step(session, &bad, &r), FT5_ERR_INVALID_ARGUMENT, "grad_scale");
    bad = st;
    bad.beta2 = 1.0f;
    expect_error(ft5_session_optimizer_step(session, &bad, &r), FT5_ERR_INVALID_ARGUMENT, "beta2");
    bad = st;
    bad.learning_rate = NAN;
    expect_error(ft5_session_optimizer_step(session, &bad, &r), FT5_ERR_INVALID_ARGUMENT, "learning_rate");

    uint64_t state = 0;
    expect_error(ft5_session_get_rng_state(dead, &state), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_get_rng_state(session, nullptr), FT5_ERR_INVALID_ARGUMENT, "out_state");
    expect_error(ft5_session_set_rng_state(dead, 1), FT5_ERR_INVALID_HANDLE, "session");
    ASSERT_EQ(ft5_session_set_rng_state(session, 42), FT5_OK);
    ASSERT_EQ(ft5_session_get_rng_state(session, &state), FT5_OK);
    EXPECT_EQ(state, 42u);
}

TEST_F(SessionErrors, DecodeCallsValidate) {
    std::vector<float> logits(2 * 64);
    std::vector<int32_t> tok{0, 0};
    expect_error(ft5_session_decode_step(session, tok.data(), logits.data(), logits.size()), FT5_ERR_INVALID_ARGUMENT,
                 "decode_begin");
    std::vector<int32_t> rows{0};
    expect_error(ft5_session_decode_reorder(session, rows.data(), 1), FT5_ERR_INVALID_ARGUMENT, "decode_begin");
    expect_error(ft5_session_decode_begin(dead, tokens.input_ids.data(), nullptr, 2, 3, 4), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_decode_begin(session, nullptr, nullptr, 2, 3, 4), FT5_ERR_INVALID_ARGUMENT, "input_ids");
    expect_error(ft5_session_decode_begin(session, tokens.input_ids.data(), nullptr, 0, 3, 4), FT5_ERR_INVALID_ARGUMENT, "batch");
    expect_error(ft5_session_decode_begin(session, tokens.input_ids.data(), nullptr, 2, 3, 0), FT5_ERR_INVALID_ARGUMENT,
                 "max_steps");
    tokens.input_ids[0] = 99;
    expect_error(ft5_session_decode_begin(session, tokens.input_ids.data(), nullptr, 2, 3, 4), FT5_ERR_INVALID_ARGUMENT,
                 "input_ids[0, 0] is 99");
    tokens.input_ids[0] = 5;
    ASSERT_EQ(ft5_session_decode_begin(session, tokens.input_ids.data(), nullptr, 2, 3, 4), FT5_OK) << ft5_last_error();
    expect_error(ft5_session_decode_step(dead, tok.data(), logits.data(), logits.size()), FT5_ERR_INVALID_HANDLE,
                 "session");
    expect_error(ft5_session_decode_step(session, nullptr, logits.data(), logits.size()), FT5_ERR_INVALID_ARGUMENT,
                 "tokens");
    expect_error(ft5_session_decode_step(session, tok.data(), nullptr, logits.size()), FT5_ERR_INVALID_ARGUMENT,
                 "logits");
    expect_error(ft5_session_decode_step(session, tok.data(), logits.data(), 64), FT5_ERR_INVALID_ARGUMENT,
                 "logits_count");
    tok[1] = 64;
    expect_error(ft5_session_decode_step(session, tok.data(), logits.data(), logits.size()), FT5_ERR_INVALID_ARGUMENT,
                 "tokens[0, 1] is 64");
    tok[1] = 0;
    ASSERT_EQ(ft5_session_decode_step(session, tok.data(), logits.data(), logits.size()), FT5_OK);
    // _v2 knows how many tokens the caller has: one per row of the decode, no more, no fewer.
    expect_error(ft5_session_decode_step_v2(session, tok.data(), 1, logits.data(), logits.size()),
                 FT5_ERR_INVALID_ARGUMENT, "token_count is 1; expected one token per row of the decode, 2");
    expect_error(ft5_session_decode_step_v2(session, tok.data(), 3, logits.data(), logits.size()),
                 FT5_ERR_INVALID_ARGUMENT, "token_count is 3");
    expect_error(ft5_session_decode_step_v2(session, nullptr, 2, logits.data(), logits.size()),
                 FT5_ERR_INVALID_ARGUMENT, "tokens");
    expect_error(ft5_session_decode_step_v2(dead, tok.data(), 2, logits.data(), logits.size()), FT5_ERR_INVALID_HANDLE,
                 "session");
    ASSERT_EQ(ft5_session_decode_step_v2(session, tok.data(), tok.size(), logits.data(), logits.size()), FT5_OK)
        << ft5_last_error();
    rows = {0, 2};
    expect_error(ft5_session_decode_reorder(session, rows.data(), 2), FT5_ERR_INVALID_ARGUMENT, "rows[1] is 2");
    expect_error(ft5_session_decode_reorder(session, nullptr, 2), FT5_ERR_INVALID_ARGUMENT, "rows");
    expect_error(ft5_session_decode_reorder(session, rows.data(), 0), FT5_ERR_INVALID_ARGUMENT, "count");
    expect_error(ft5_session_decode_reorder(dead, rows.data(), 1), FT5_ERR_INVALID_HANDLE, "session");
    expect_error(ft5_session_decode_end(dead), FT5_ERR_INVALID_HANDLE, "session");
    ASSERT_EQ(ft5_session_decode_end(session), FT5_OK);
    expect_error(ft5_session_decode_step(session, tok.data(), logits.data(), logits.size()), FT5_ERR_INVALID_ARGUMENT,
                 "decode_begin");
}
