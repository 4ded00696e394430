// The AdamW program: the fixtures' 12-step trajectory replayed on the graph against its float64 replay (the
// bounds and their derivation: t5_session_fixture.h), and one step with per-group weight decay and clipping against
// a float64 host step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "host_adamw.h"
#include "t5/t5_graph_fixture.h"
#include "t5_session_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

std::string param_name(const ::testing::TestParamInfo<const char*>& info) {
    std::string n = info.param;
    for (auto& c : n)
        if (c == '-') c = '_';
    return n;
}

// A batch with its source padded to src_len: pad id 0, mask 0. Exact for the model: a masked key gets zero
// attention weight, so padded positions change no output and get zero gradient.
OwnedBatch pad_source(const OwnedBatch& b, uint32_t src_len) {
    OwnedBatch o = b;
    o.src_len = src_len;
    o.input_ids.assign(size_t(b.batch) * src_len, 0);
    o.attention_mask.assign(size_t(b.batch) * src_len, 0);
    for (uint32_t r = 0; r < b.batch; ++r)
        for (uint32_t t = 0; t < b.src_len; ++t) {
            o.input_ids[r * src_len + t] = b.input_ids[r * b.src_len + t];
            o.attention_mask[r * src_len + t] = b.attention_mask[r * b.src_len + t];
        }
    return o;
}

}  // namespace

class T5BuilderTrajectory : public ::testing::TestWithParam<const char*> {};

// One graph serves the 12 steps, whose sources are 25 to 31 tokens long: every batch is padded to the longest.
TEST_P(T5BuilderTrajectory, TwelveAdamWStepsMatchFloat64Replay) {
    const std::string model = GetParam();
    const SafetensorsFile batches(fixture_path(model, "reference_adamw_trajectory.safetensors"));
    const SafetensorsFile f64(fixture_path(model, "reference_adamw_trajectory_f64.safetensors"));
    const JsonValue meta = parse_json(read_text(fixture_path(model, "reference_adamw_trajectory.json")));
    const std::vector<double> losses = f64.at("losses").f64(), norms = f64.at("grad_norms").f64();
    TrajectoryErrors e;
    e.steps = int(meta.at("steps").number);
    ASSERT_EQ(size_t(e.steps), losses.size());
    std::vector<OwnedBatch> steps;
    uint32_t src_len = 0;
    for (int s = 0; s < e.steps; ++s) {
        steps.push_back(reference_batch(batches, "step" + std::to_string(s) + "."));
        src_len = std::max(src_len, steps.back().src_len);
        ASSERT_EQ(steps.back().tgt_len, steps.front().tgt_len);
        ASSERT_EQ(steps.back().batch, steps.front().batch);
    }
    auto g = fixture_graph(model, t5::BatchShape{steps[0].batch, src_len, steps[0].tgt_len});
    for (int s = 0; s < e.steps; ++s) {
        g->set_batch(pad_source(steps[size_t(s)], src_len));
        g->run(t5::T5Program::kZeroGradients);
        g->run(t5::T5Program::kForwardBackward);
        t5::AdamWStep st;
        st.step = uint64_t(s + 1);
        st.learning_rate = meta.at("lr").number;
        st.weight_decay = meta.at("weight_decay").number;
        st.decay_all_parameters = true;
        st.beta1 = meta.at("betas").array[0].number;
        st.beta2 = meta.at("betas").array[1].number;
        st.eps = meta.at("eps").number;
        const auto result = g->optimizer_step(st);
        EXPECT_EQ(result[1], 0.0f) << "step " << s << " skipped";
        e.loss = std::max(e.loss, std::abs(g->loss - losses[size_t(s)]) / losses[size_t(s)]);
        e.grad_norm = std::max(e.grad_norm, std::abs(result[0] - norms[size_t(s)]) / norms[size_t(s)]);
    }
    for (const auto& p : g->program.parameters().all()) {
        const double err = rel_err(g->weight(p), f64.at("final." + p.name).f64());
        if (err >= e.weights) {
            e.weights = err;
            e.worst_tensor = p.name;
        }
    }
    expect_trajectory_within_bounds(e, model, model + " graph");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, T5BuilderTrajectory, ::testing::Values("flan-t5-tiny", "hf-t5-tiny"), param_name);

// Weight decay on every parameter but the norms and the relative attention bias, gradients unscaled from a loss
// scale of 4 and clipped to norm 0.5: one step (step 3, so the bias corrections are not 1) on the graph and on the
// session, each from the same weights and gradients, against host_adamw_step in float64. Both differ from it by
// float32 rounding of the update alone: measured weights 4.2e-8, first moments 1.7e-7 and gradient norm 1.2e-7
// relative at worst under OPENBLAS_CORETYPE = Nehalem, Sandybridge, Haswell, Zen, Cooperlake and the host default;
// bound 1e-6 (5.8x margin). Decay applied to the wrong group moves a weight by lr x wd = 1e-3.
TEST(T5BuilderAdamW, PerGroupDecayAndClippingMatchAFloat64HostStep) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const OwnedBatch b = reference_batch(ref);
    auto g = fixture_graph("flan-t5-tiny", t5::BatchShape{b.batch, b.src_len, b.tgt_len});
    SessionFixture fx("flan-t5-tiny");
    const ft5_batch view = b.view(true);
    float loss = 0;
    // the gradients carry a loss scale of 4, which the step divides back out
    ASSERT_EQ(ft5_session_zero_gradients(fx.session), FT5_OK);
    ASSERT_EQ(ft5_session_forward_backward(fx.session, &view, 4.0f, &loss), FT5_OK) << ft5_last_error();
    ft5_optimizer_step es = adamw(3, 1e-2f, 0.1f, 0);
    es.grad_scale = 4.0f;
    es.max_grad_norm = 0.5f;
    // the same gradients on the graph and on the host, so the test measures the update alone
    std::vector<HostParam> host;
    for (const auto& p : g->program.parameters().all()) {
        const std::vector<float> grad = fx.read(p.name, FT5_SLOT_GRADIENT), w = fx.read(p.name, FT5_SLOT_WEIGHT);
        g->engine->writeTensor(t5::Parameters::gradientHandle(p.name), grad.data(), grad.data() + grad.size());
        HostParam h;
        h.weight.assign(w.begin(), w.end());
        h.gradient.assign(grad.begin(), grad.end());
        h.decays = p.name.find("norm") == std::string::npos && p.name.find("bias") == std::string::npos;
        host.push_back(std::move(h));
    }
    const double host_norm = host_adamw_step(host, es);
    ASSERT_GT(host_norm, es.max_grad_norm) << "the clipping is not exercised";
    t5::AdamWStep st;
    st.step = es.step;
    st.learning_rate = es.learning_rate;
    st.weight_decay = es.weight_decay;
    st.grad_scale = es.grad_scale;
    st.max_grad_norm = es.max_grad_norm;
    const auto result = g->optimizer_step(st);
    ASSERT_EQ(result[1], 0.0f);
    ft5_step_result er = step_result();
    ASSERT_EQ(ft5_session_optimizer_step(fx.session, &es, &er), FT5_OK) << ft5_last_error();
    EXPECT_EQ(er.skipped_nonfinite, 0);
    // float32 sums of squares against the float64 one
    EXPECT_NEAR(result[0], host_norm, 1e-6 * host_norm);
    EXPECT_NEAR(er.grad_norm, host_norm, 1e-6 * host_norm);
    double worst_w = 0, worst_m = 0;
    std::string worst_name;
    const auto& params = g->program.parameters().all();
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto& p = params[i];
        for (const std::vector<float>& w : {g->weight(p), fx.read(p.name, FT5_SLOT_WEIGHT)}) {
            const double e = rel_err(w, host[i].weight);
            EXPECT_LE(e, 1e-6) << p.name;
            if (e > worst_w) {
                worst_w = e;
                worst_name = p.name;
            }
        }
        const std::vector<float> graph_m = g->read(t5::AdamW::firstMomentHandle(p.name), p.weight.numElements());
        for (const std::vector<float>& m : {graph_m, fx.read(p.name, FT5_SLOT_ADAM_M)}) {
            const double e = rel_err(m, host[i].m);
            EXPECT_LE(e, 1e-6) << p.name;
            worst_m = std::max(worst_m, e);
        }
    }
    std::printf("[flan-t5-tiny graph and session] one AdamW step, per-group decay and clipping, against float64: "
                "worst weight difference %.3e (%s), first moments %.3e, gradient norm %.7f / %.7f vs %.7f\n",
                worst_w, worst_name.c_str(), worst_m, double(result[0]), er.grad_norm, host_norm);
}
