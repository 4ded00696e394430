// session::BuilderSession on random weights of a tiny geometry (d_kv x heads != d_model, unequal depths): a batch on
// a padded bucket against a program compiled for exactly its shape, gradients added across two batch shapes (the
// state moving between programs) and the AdamW step against a float64 host step, greedy and beam decoding (reorders
// within a bucket and across buckets) against uncached forward passes, and the dropout stream's resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "abi/error.h"
#include "abi/handles.h"
#include "ft5/ft5.h"
#include "host_adamw.h"
#include "parity_bounds.h"
#include "session/builder_session.h"
#include "session/model_config.h"
#include "t5/t5_graph_fixture.h"
#include "t5_session_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;
using ft5::session::BuilderSession;

namespace {

// The same geometry as tiny_config(2) (t5_graph_fixture.h).
ft5_model_desc tiny_desc(float dropout = 0.0f) {
    ft5_model_desc m;
    ft5_model_desc_init(&m);
    m.vocab_size = 40;
    m.d_model = 12;
    m.d_kv = 5;
    m.num_heads = 3;
    m.d_ff = 20;
    m.num_layers = 1;
    m.num_decoder_layers = 2;
    m.relative_attention_num_buckets = 8;
    m.relative_attention_max_distance = 16;
    m.dropout_rate = dropout;
    m.seed = 11;
    return m;
}

OwnedBatch batch_2x5x4() {
    OwnedBatch o;
    o.batch = 2;
    o.src_len = 5;
    o.tgt_len = 4;
    o.input_ids = {3, 7, 11, 1, 0, 5, 9, 2, 8, 1};
    o.attention_mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    o.decoder_input_ids = {0, 4, 6, 8, 0, 12, 14, 16};
    o.labels = {4, 6, 8, 1, 12, 14, -100, 1};
    return o;
}

OwnedBatch batch_3x3x2() {
    OwnedBatch o;
    o.batch = 3;
    o.src_len = 3;
    o.tgt_len = 2;
    o.input_ids = {13, 2, 1, 4, 6, 1, 21, 1, 0};
    o.attention_mask = {1, 1, 1, 1, 1, 1, 1, 1, 0};
    o.decoder_input_ids = {0, 5, 0, 7, 0, 9};
    o.labels = {5, 1, 7, 1, 9, -100};
    return o;
}

ft5::session::BatchView view_of(const OwnedBatch& b, bool training = false) {
    ft5::session::BatchView v;
    v.batch = b.batch;
    v.src_len = b.src_len;
    v.tgt_len = b.tgt_len;
    v.input_ids = b.input_ids.data();
    v.attention_mask = b.attention_mask.empty() ? nullptr : b.attention_mask.data();
    v.decoder_input_ids = b.decoder_input_ids.data();
    v.labels = b.labels.empty() ? nullptr : b.labels.data();
    v.training = training;
    return v;
}

double relative(double a, double b) { return std::abs(a - b) / std::abs(b); }

// A one-IPU builder session on its own device, with random weights (norms near 1, matrices N(0, 0.4)).
struct Tiny {
    ft5_device* device = nullptr;
    std::unique_ptr<BuilderSession> session;
    std::vector<std::vector<float>> weights;  // by session parameter index

    explicit Tiny(const ft5_model_desc& m = tiny_desc()) {
        ft5_device_desc dd;
        ft5_device_desc_init(&dd);
        dd.num_threads = 2;
        EXPECT_EQ(ft5_device_create(&dd, &device), FT5_OK);
        session = std::make_unique<BuilderSession>(device->device, ft5::session::ModelConfig::from_desc(m),
                                                   t5::ParallelPlan{}, ft5::session::LocalReplicas{});
        std::mt19937 rng(7);
        for (std::size_t i = 0; i < session->params().size(); ++i) {
            const auto& p = session->params()[i];
            const bool norm = p.name.find("norm") != std::string::npos;
            std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
            std::vector<float> w(std::size_t(p.count));
            for (auto& x : w) x = dist(rng);
            session->write(i, FT5_SLOT_WEIGHT, w.data());
            weights.push_back(std::move(w));
        }
    }
    ~Tiny() {
        session.reset();
        ft5_device_destroy(device);
    }
    Tiny(const Tiny&) = delete;
    Tiny& operator=(const Tiny&) = delete;

    void write_weights(BuilderSession& other) const {
        for (std::size_t i = 0; i < weights.size(); ++i) other.write(i, FT5_SLOT_WEIGHT, weights[i].data());
    }
    void write_weights(T5Graph& g) const {
        for (std::size_t i = 0; i < weights.size(); ++i) g.write_weight(session->params()[i].name, weights[i]);
    }
    std::vector<std::vector<float>> read(ft5_param_slot slot) const {
        std::vector<std::vector<float>> out;
        for (std::size_t i = 0; i < session->params().size(); ++i) {
            out.emplace_back(std::size_t(session->params()[i].count));
            session->read(i, slot, out.back().data());
        }
        return out;
    }
};

// The worst relative difference of a slot over every parameter, against a float64 reference.
double worst(const std::vector<std::vector<float>>& got, const std::vector<std::vector<double>>& want) {
    double w = 0;
    for (std::size_t i = 0; i < got.size(); ++i) w = std::max(w, rel_err(got[i], want[i]));
    return w;
}

}  // namespace

// The program of the 2 x 8 x 4 bucket (source padded with masked positions) against one compiled for exactly
// 2 x 5 x 4: masked keys weigh exactly 0, so only the order of float32 sums differs. Measured under
// OPENBLAS_CORETYPE = Nehalem, Sandybridge, Haswell, Zen, Cooperlake and the host default (AMD EPYC): loss 2.4e-7,
// logits 3.9e-7, encoder output 2.3e-7 at worst (0 under Sandybridge). The bounds are the fixtures' float32 parity
// bounds (parity_bounds.h: 1e-6, 2e-6, 2e-6; 4x margin or more), which a padded key given any weight (an O(1) change
// of the attention) exceeds.
TEST(BuilderSession, APaddedBucketGivesTheOutputsOfAnExactlyFittingProgram) {
    Tiny s;
    const OwnedBatch b = batch_2x5x4();
    std::vector<float> logits(std::size_t(b.batch * b.tgt_len) * 40), hidden(std::size_t(b.batch * b.src_len) * 12);
    const double loss = s.session->forward(view_of(b), logits.data(), hidden.data());
    EXPECT_EQ(s.session->runs_on(view_of(b)).src_len, 8u) << "the batch does not run on a padded bucket";
    T5Graph exact(tiny_config(2), t5::BatchShape{b.batch, b.src_len, b.tgt_len});
    s.write_weights(exact);
    exact.set_batch(b);
    exact.run(t5::T5Program::kForward);
    const double loss_err = relative(loss, exact.loss), logits_err = rel_err(logits, exact.logits),
                 hidden_err = rel_err(hidden, exact.encoder_output);
    std::printf("[padded bucket vs exact program] loss %.3e, logits %.3e, encoder output %.3e\n", loss_err,
                logits_err, hidden_err);
    EXPECT_LE(loss_err, kLossBound);
    EXPECT_LE(logits_err, kLogitsBound);
    EXPECT_LE(hidden_err, kEncoderBound);
}

// Gradients of (a, weight 0.5) then (b, weight 2) in one accumulation, a on the 2 x 8 x 4 program and b on the
// 4 x 4 x 2 one, against each computed alone and summed in float64: measured 5.1e-8 at worst (float32 rounding of
// the one addition); bound 1e-6. Then one AdamW step (per-group decay, gradients unscaled by 2.5 and clipped to norm
// 0.5) against host_adamw_step in float64 from the same weights and gradients: measured weights 4.8e-8, first
// moments 1.1e-7, second moments 2.2e-7, gradient norm 6.1e-8 relative at worst (the OpenBLAS kernels above);
// bounds 1e-6 (float32 rounding of the update, 4.5x margin or more). Decay applied to the wrong group moves a weight
// by lr x wd = 1e-3 relative; a missing unscale or clip changes the moments by O(1).
TEST(BuilderSession, GradientsAddAcrossBatchShapesAndTheAdamWStepMatchesAFloat64Step) {
    Tiny s;
    BuilderSession& b = *s.session;
    const OwnedBatch batch_a = batch_2x5x4(), batch_b = batch_3x3x2();
    b.zero_gradients();
    b.forward_backward(view_of(batch_a, true), 0.5f);
    const auto alone_a = s.read(FT5_SLOT_GRADIENT);
    b.zero_gradients();
    b.forward_backward(view_of(batch_b, true), 2.0f);
    const auto alone_b = s.read(FT5_SLOT_GRADIENT);
    b.zero_gradients();
    b.forward_backward(view_of(batch_a, true), 0.5f);
    b.forward_backward(view_of(batch_b, true), 2.0f);
    const auto summed = s.read(FT5_SLOT_GRADIENT);
    std::vector<std::vector<double>> expected_sum;
    for (std::size_t i = 0; i < summed.size(); ++i) {
        expected_sum.emplace_back(summed[i].size());
        for (std::size_t k = 0; k < summed[i].size(); ++k)
            expected_sum[i][k] = double(alone_a[i][k]) + double(alone_b[i][k]);
    }
    const double sum_err = worst(summed, expected_sum);
    EXPECT_LE(sum_err, 1e-6);
    // the first program (the parameter list's), then one per bucket: 2 x 8 x 4 and 4 x 4 x 2
    EXPECT_EQ(b.programs_built(), 3u);

    ft5_optimizer_step step;
    ft5_optimizer_step_init(&step);
    step.learning_rate = 1e-2f;
    step.weight_decay = 0.1f;
    step.grad_scale = 2.5f;
    step.max_grad_norm = 0.5f;
    std::vector<HostParam> host;
    for (std::size_t i = 0; i < b.params().size(); ++i) {
        const std::string& name = b.params()[i].name;
        HostParam p;
        p.weight.assign(s.weights[i].begin(), s.weights[i].end());
        p.gradient.assign(summed[i].begin(), summed[i].end());
        // ft5.h: names with "norm" or "bias" do not decay unless every parameter does
        p.decays = name.find("norm") == std::string::npos && name.find("bias") == std::string::npos;
        EXPECT_EQ(b.params()[i].no_weight_decay, !p.decays) << name;
        host.push_back(std::move(p));
    }
    const double host_norm = host_adamw_step(host, step);
    ASSERT_GT(host_norm, step.max_grad_norm) << "the clipping is not exercised";
    const ft5_step_result result = b.optimizer_step(step);
    EXPECT_EQ(result.skipped_nonfinite, 0);
    std::vector<std::vector<double>> w, m, v;
    for (const HostParam& p : host) {
        w.push_back(p.weight);
        m.push_back(p.m);
        v.push_back(p.v);
    }
    const double norm_err = relative(result.grad_norm, host_norm), w_err = worst(s.read(FT5_SLOT_WEIGHT), w),
                 m_err = worst(s.read(FT5_SLOT_ADAM_M), m), v_err = worst(s.read(FT5_SLOT_ADAM_V), v);
    std::printf("[accumulation and AdamW vs float64] gradient sum %.3e; gradient norm %.3e, weights %.3e, first "
                "moments %.3e, second moments %.3e\n",
                sum_err, norm_err, w_err, m_err, v_err);
    EXPECT_LE(norm_err, 1e-6);
    EXPECT_LE(w_err, 1e-6);
    EXPECT_LE(m_err, 1e-6);
    EXPECT_LE(v_err, 1e-6);
}

// Cached decoding against the uncached forward pass of a second session with the same weights: after each step,
// every row's logits equal the forward's at the last position of that row's fed history (its prompt and tokens
// following each reorder). Measured 4.7e-7 at worst over the OpenBLAS kernels above (float32: the cache's attention
// sums in another order); bound 4e-6, the fixtures' logits bound for two float32 computations (2 x kLogitsBound, 8x
// margin). A row reading another row's cache, or a reorder that loses a history, is an O(1) error.
TEST(BuilderSession, GreedyAndBeamDecodingMatchTheUncachedForward) {
    Tiny s;
    Tiny reference;
    s.write_weights(*reference.session);
    const uint32_t src = 5, steps = 5, vocab = 40;
    const std::vector<int32_t> ids = {3, 7, 11, 1, 0, 5, 9, 2, 8, 1}, mask = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    struct Row {
        std::vector<int32_t> ids, mask, history;
    };
    std::vector<Row> rows(2);
    for (uint32_t r = 0; r < 2; ++r) {
        rows[r].ids.assign(ids.begin() + r * src, ids.begin() + (r + 1) * src);
        rows[r].mask.assign(mask.begin() + r * src, mask.begin() + (r + 1) * src);
    }
    s.session->decode_begin(ids.data(), mask.data(), 2, src, steps);
    double worst_err = 0;
    auto step = [&](const std::vector<int32_t>& tokens) {
        ASSERT_EQ(tokens.size(), rows.size());
        std::vector<float> cached(tokens.size() * vocab);
        s.session->decode()->step(tokens.data(), cached.data());
        OwnedBatch fed;
        fed.batch = uint32_t(rows.size());
        fed.src_len = src;
        for (std::size_t r = 0; r < rows.size(); ++r) {
            rows[r].history.push_back(tokens[r]);
            fed.input_ids.insert(fed.input_ids.end(), rows[r].ids.begin(), rows[r].ids.end());
            fed.attention_mask.insert(fed.attention_mask.end(), rows[r].mask.begin(), rows[r].mask.end());
            fed.decoder_input_ids.insert(fed.decoder_input_ids.end(), rows[r].history.begin(), rows[r].history.end());
        }
        fed.tgt_len = uint32_t(rows[0].history.size());
        std::vector<float> all(std::size_t(fed.batch) * fed.tgt_len * vocab), last;
        reference.session->forward(view_of(fed), all.data(), nullptr);
        for (std::size_t r = 0; r < rows.size(); ++r) {
            const float* at = all.data() + (r * fed.tgt_len + fed.tgt_len - 1) * vocab;
            last.insert(last.end(), at, at + vocab);
        }
        const double e = rel_err(cached, last);
        EXPECT_LE(e, 2 * kLogitsBound) << "step " << fed.tgt_len;
        worst_err = std::max(worst_err, e);
    };
    auto reorder = [&](const std::vector<int32_t>& parents) {
        s.session->decode()->reorder(parents.data(), uint32_t(parents.size()));
        EXPECT_EQ(s.session->decode()->batch(), int64_t(parents.size()));
        std::vector<Row> next;
        for (int32_t p : parents) next.push_back(rows[std::size_t(p)]);
        rows = std::move(next);
    };
    step({0, 0});
    step({4, 12});
    reorder({1, 0, 0, 1});  // 2 -> 4 rows: a new bucket, the histories fed again
    step({6, 7, 8, 9});
    reorder({3, 3, 0});  // 4 -> 3 rows: the same bucket, through the parents stream
    step({10, 11, 12});
    step({1, 2, 3});
    std::printf("[cached decoding vs uncached forward] worst logits rel err %.3e over 5 steps\n", worst_err);
    std::vector<float> logits(3 * vocab);
    const std::vector<int32_t> more = {1, 1, 1};
    EXPECT_THROW(s.session->decode()->step(more.data(), logits.data()), ft5::Error);  // max_steps tokens fed
}

TEST(BuilderSession, DropoutResumesBitIdenticallyFromTheRngState) {
    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    ft5_device* device = nullptr;
    ASSERT_EQ(ft5_device_create(&dd, &device), FT5_OK);
    BuilderSession s(device->device, ft5::session::ModelConfig::from_desc(tiny_desc(0.3f)), t5::ParallelPlan{},
                     ft5::session::LocalReplicas{});
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 0.4f);
    for (std::size_t i = 0; i < s.params().size(); ++i) {
        std::vector<float> w(std::size_t(s.params()[i].count));
        for (auto& x : w) x = dist(rng);
        s.write(i, FT5_SLOT_WEIGHT, w.data());
    }
    const OwnedBatch b = batch_2x5x4();
    auto gradients = [&] {
        s.zero_gradients();
        s.forward_backward(view_of(b, true), 1.0f);
        std::vector<float> all;
        for (std::size_t i = 0; i < s.params().size(); ++i) {
            std::vector<float> g(std::size_t(s.params()[i].count));
            s.read(i, FT5_SLOT_GRADIENT, g.data());
            all.insert(all.end(), g.begin(), g.end());
        }
        return all;
    };
    const uint64_t start = s.rng_state();
    const std::vector<float> first = gradients(), second = gradients();
    EXPECT_NE(first, second) << "each training pass draws new masks";
    s.set_rng_state(start);
    EXPECT_EQ(gradients(), first);
    EXPECT_EQ(gradients(), second);
    // an evaluation pass (training = 0) neither drops nor draws
    const uint64_t before = s.rng_state();
    s.zero_gradients();
    s.forward_backward(view_of(b, false), 1.0f);
    EXPECT_EQ(s.rng_state(), before);
    ft5_device_destroy(device);
}
