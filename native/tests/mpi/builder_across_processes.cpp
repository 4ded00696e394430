// Run as `mpirun -np 2`: a data-parallel 2 session on the T5 builder split over the two host instances
// (plan->first_local_replica = the instance, local_replicas = 1; each feeds its own replica's rows) against the
// same plan with both replicas in this process, for two plans: tensor-parallel 2, and 2 pipeline stages with
// phased execution (weights, gradients and moments in streaming memory). Two training steps give the same bits:
// the losses, the gradient norms and every weight, since the emulated collectives reduce in one fixed order either
// way. Each instance exits non-zero on its own failures.
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "ft5/ft5.h"

namespace {

int instance = -1, instances = 0;
int failures = 0;

void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    std::cerr << "instance " << instance << ": FAIL " << what << "\n";
}

std::string last_error() { return ft5_last_error() == nullptr ? "" : ft5_last_error(); }

ft5_model_desc small_model() {
    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = 33;  // padded to 34 for two vocabulary shards
    m.d_model = 8;
    m.d_kv = 4;
    m.d_ff = 16;
    m.num_heads = 2;
    m.num_layers = 1;
    m.num_decoder_layers = 1;
    m.feed_forward_proj = FT5_FFN_RELU;
    return m;
}

// How one data-parallel replica is laid out (4 IPUs in all at dp 2).
struct Layout {
    uint32_t tensor_parallel = 2, pipeline_stages = 1;
    ft5_memory_location state_location = FT5_MEMORY_ON_CHIP;  // weights and optimizer

    std::string name() const {
        return "tp " + std::to_string(tensor_parallel) + " pp " + std::to_string(pipeline_stages) +
               (state_location == FT5_MEMORY_STREAMING ? " phased" : "");
    }
};

struct Session {
    ft5_device* device = nullptr;
    ft5_session* session = nullptr;
    ft5_status status = FT5_OK;

    // local_replicas 0: both replicas in this process.
    Session(uint32_t first_local, uint32_t local, const Layout& layout = {}) {
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = 1;
        dd.num_ipus = 4;
        expect(ft5_device_create(&dd, &device) == FT5_OK, "device: " + last_error());
        const ft5_model_desc m = small_model();
        ft5_plan_desc plan;
        ft5_plan_desc_init(&plan);
        plan.tensor_parallel = layout.tensor_parallel;
        plan.pipeline_stages = layout.pipeline_stages;
        plan.weights_location = layout.state_location;
        plan.optimizer_location = layout.state_location;
        plan.replicas = 2;
        plan.first_local_replica = first_local;
        plan.local_replicas = local;
        status = ft5_session_create(device, &m, &plan, &session);
    }
    ~Session() {
        ft5_session_destroy(session);
        ft5_device_destroy(device);
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    std::vector<std::vector<float>> weights() const {
        uint32_t n = 0;
        expect(ft5_session_param_count(session, &n) == FT5_OK, "param_count");
        std::vector<std::vector<float>> out;
        for (uint32_t i = 0; i < n; ++i) {
            ft5_param_info info{};
            info.struct_size = sizeof(info);
            expect(ft5_session_param_info(session, i, &info) == FT5_OK, "param_info");
            std::size_t elems = 1;
            for (uint32_t k = 0; k < info.rank; ++k) elems *= std::size_t(info.shape[k]);
            out.emplace_back(elems);
            expect(ft5_session_param_read(session, i, FT5_SLOT_WEIGHT, out.back().data(), elems) == FT5_OK,
                   "param_read: " + last_error());
        }
        return out;
    }
    void write_random_weights() {
        std::mt19937 rng(5);
        std::normal_distribution<float> dist(0.0f, 0.5f);
        std::vector<std::vector<float>> w = weights();
        for (uint32_t i = 0; i < w.size(); ++i) {
            for (float& x : w[i]) x = dist(rng);
            expect(ft5_session_param_write(session, i, FT5_SLOT_WEIGHT, w[i].data(), w[i].size()) == FT5_OK,
                   "param_write: " + last_error());
        }
    }
};

// The run's batch: 4 rows of 3 source and 2 target tokens; data-parallel replica r reads rows [2r, 2r + 2).
struct Rows {
    std::vector<int32_t> ids, dec, labels;
};

Rows batch_rows(int step, uint32_t first_row, uint32_t rows) {
    Rows all;
    std::mt19937 rng(uint32_t(100 + step));
    std::uniform_int_distribution<int32_t> id(1, 32);
    for (int i = 0; i < 4 * 3; ++i) all.ids.push_back(id(rng));
    for (int i = 0; i < 4 * 2; ++i) {
        all.dec.push_back(i % 2 == 0 ? 0 : id(rng));
        all.labels.push_back(i == 5 ? -100 : id(rng));
    }
    Rows part;
    part.ids.assign(all.ids.begin() + first_row * 3, all.ids.begin() + (first_row + rows) * 3);
    part.dec.assign(all.dec.begin() + first_row * 2, all.dec.begin() + (first_row + rows) * 2);
    part.labels.assign(all.labels.begin() + first_row * 2, all.labels.begin() + (first_row + rows) * 2);
    return part;
}

struct StepResult {
    float loss = 0;
    double grad_norm = 0;
};

StepResult train_step(Session& s, int step, uint32_t first_row, uint32_t rows) {
    Rows r = batch_rows(step, first_row, rows);
    ft5_batch b;
    ft5_batch_init(&b);
    b.batch = rows;
    b.src_len = 3;
    b.tgt_len = 2;
    b.input_ids = r.ids.data();
    b.decoder_input_ids = r.dec.data();
    b.labels = r.labels.data();
    StepResult out;
    expect(ft5_session_zero_gradients(s.session) == FT5_OK, "zero_gradients: " + last_error());
    expect(ft5_session_forward_backward(s.session, &b, 1.0f, &out.loss) == FT5_OK, "forward_backward: " + last_error());
    ft5_optimizer_step st;
    ft5_optimizer_step_init(&st);
    st.step = uint64_t(step + 1);
    st.learning_rate = 1e-2f;
    st.weight_decay = 0.01f;
    ft5_step_result result{};
    result.struct_size = sizeof(result);
    expect(ft5_session_optimizer_step(s.session, &st, &result) == FT5_OK, "optimizer_step: " + last_error());
    out.grad_norm = result.grad_norm;
    return out;
}

}  // namespace

int main() {
    if (ft5_instances_join(&instance, &instances) != FT5_OK) {
        std::cerr << "join failed: " << last_error() << "\n";
        return 1;
    }
    if (instances != 2) {
        std::cerr << "run with mpirun -np 2 (got " << instances << " instances)\n";
        ft5_instances_abort(2);
    }
    for (const Layout& layout : {Layout{2, 1, FT5_MEMORY_ON_CHIP}, Layout{1, 2, FT5_MEMORY_STREAMING}}) {
        const std::string what = layout.name() + ": ";
        Session split(uint32_t(instance), 1, layout), whole(0, 0, layout);
        expect(split.status == FT5_OK, what + "split session: " + last_error());
        expect(whole.status == FT5_OK, what + "whole session: " + last_error());
        if (split.status == FT5_OK && whole.status == FT5_OK) {
            split.write_random_weights();
            whole.write_random_weights();
            for (int step = 0; step < 2; ++step) {
                const StepResult a = train_step(split, step, uint32_t(instance) * 2, 2);
                const StepResult b = train_step(whole, step, 0, 4);
                expect(a.loss == b.loss, what + "step " + std::to_string(step) + ": loss " + std::to_string(a.loss) +
                                             " split, " + std::to_string(b.loss) + " in one process");
                expect(a.grad_norm == b.grad_norm, what + "step " + std::to_string(step) + ": gradient norm " +
                                                       std::to_string(a.grad_norm) + " split, " +
                                                       std::to_string(b.grad_norm) + " in one process");
            }
            expect(split.weights() == whole.weights(), what + "the weights after two steps differ");
        }
    }
    expect(ft5_instances_leave() == FT5_OK, "leave: " + last_error());
    if (instance == 0) std::cout << (failures == 0 ? "PASS" : "FAILED") << " on instance 0\n";
    return failures == 0 ? 0 : 1;
}
