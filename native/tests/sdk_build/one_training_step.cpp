// A program of the C ABI alone, built against either libft5 (the emulated SDK's or the Poplar SDK's) and run
// with one backend (argv[1]: emulator, ipu-model or poplar): a small model on 2 tensor-parallel IPUs takes a
// forward pass, one AdamW step and a second forward pass; the program prints the losses, the gradient norm and a
// checksum of the weights after the step, with every digit of each, so runs on different builds can be compared
// exactly. Exits non-zero, saying why, on any failed call.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ft5/ft5.h"

namespace {

bool check(ft5_status status, const char* what) {
    if (status == FT5_OK) return true;
    std::fprintf(stderr, "%s failed (status %d): %s\n", what, int(status), ft5_last_error());
    return false;
}

struct Handles {
    ft5_device* device = nullptr;
    ft5_session* session = nullptr;
    ~Handles() {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
};

bool parse_backend(const char* name, ft5_backend* out) {
    if (std::strcmp(name, "emulator") == 0) *out = FT5_BACKEND_EMULATOR;
    else if (std::strcmp(name, "ipu-model") == 0) *out = FT5_BACKEND_IPU_MODEL;
    else if (std::strcmp(name, "poplar") == 0) *out = FT5_BACKEND_POPLAR;
    else return false;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    ft5_backend backend{};
    if (argc != 2 || !parse_backend(argv[1], &backend)) {
        std::fprintf(stderr, "usage: %s emulator|ipu-model|poplar\n", argv[0]);
        return 2;
    }
    Handles h;
    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    dd.backend = backend;
    dd.num_ipus = 2;
    dd.num_threads = 1;
    if (!check(ft5_device_create(&dd, &h.device), "ft5_device_create")) return 1;

    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = 33;
    m.d_model = 8;
    m.d_kv = 4;
    m.d_ff = 16;
    m.num_heads = 2;
    m.num_layers = 1;
    m.num_decoder_layers = 1;
    ft5_plan_desc plan;
    ft5_plan_desc_init(&plan);
    plan.tensor_parallel = 2;
    if (!check(ft5_session_create(h.device, &m, &plan, &h.session), "ft5_session_create")) return 1;

    uint32_t params = 0;
    if (!check(ft5_session_param_count(h.session, &params), "ft5_session_param_count")) return 1;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    std::vector<std::vector<float>> weights(params);
    for (uint32_t i = 0; i < params; ++i) {
        ft5_param_info info{};
        info.struct_size = sizeof(info);
        if (!check(ft5_session_param_info(h.session, i, &info), "ft5_session_param_info")) return 1;
        std::size_t n = 1;
        for (uint32_t k = 0; k < info.rank; ++k) n *= std::size_t(info.shape[k]);
        weights[i].resize(n);
        for (float& w : weights[i]) w = normal(rng);
        if (!check(ft5_session_param_write(h.session, i, FT5_SLOT_WEIGHT, weights[i].data(), n),
                   "ft5_session_param_write"))
            return 1;
    }

    std::vector<int32_t> ids = {5, 9, 2, 17, 4, 1}, dec = {0, 7, 0, 12}, labels = {7, 3, 12, -100};
    ft5_batch b;
    ft5_batch_init(&b);
    b.batch = 2;
    b.src_len = 3;
    b.tgt_len = 2;
    b.input_ids = ids.data();
    b.decoder_input_ids = dec.data();
    b.labels = labels.data();
    float loss_before = 0, loss_after = 0;
    if (!check(ft5_session_zero_gradients(h.session), "ft5_session_zero_gradients")) return 1;
    if (!check(ft5_session_forward_backward(h.session, &b, 1.0f, &loss_before), "ft5_session_forward_backward"))
        return 1;
    ft5_optimizer_step step;
    ft5_optimizer_step_init(&step);
    step.step = 1;
    step.learning_rate = 1e-2f;
    step.weight_decay = 0.01f;
    ft5_step_result result{};
    result.struct_size = sizeof(result);
    if (!check(ft5_session_optimizer_step(h.session, &step, &result), "ft5_session_optimizer_step")) return 1;
    if (!check(ft5_session_zero_gradients(h.session), "ft5_session_zero_gradients")) return 1;
    if (!check(ft5_session_forward_backward(h.session, &b, 1.0f, &loss_after), "ft5_session_forward_backward"))
        return 1;

    double checksum = 0;
    for (uint32_t i = 0; i < params; ++i) {
        if (!check(ft5_session_param_read(h.session, i, FT5_SLOT_WEIGHT, weights[i].data(), weights[i].size()),
                   "ft5_session_param_read"))
            return 1;
        for (std::size_t k = 0; k < weights[i].size(); ++k) checksum += double(weights[i][k]) * double(k % 7 + 1);
    }
    uint32_t programs = 0;
    if (!check(ft5_session_programs_built(h.session, &programs), "ft5_session_programs_built")) return 1;
    std::printf("loss before %.9g\ngradient norm %.17g\nloss after %.9g\nweights checksum %.17g\nprograms %u\n",
                double(loss_before), result.grad_norm, double(loss_after), checksum, programs);
    return loss_after < loss_before ? 0 : 3;
}
