// The training step program: micro-batches read in turn from the streams, their gradients accumulated into those
// of the step's mean loss, and a flag for a non-finite loss or gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "t5/cross_entropy.h"
#include "t5/t5_graph_fixture.h"
#include "t5_session_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

struct Batch {
    std::vector<int> input_ids, attention_mask, decoder_input_ids, labels;
};

// rows random rows; `ignored` labels of the first row are -100, so micro-batches count different numbers of labels.
Batch random_batch(std::size_t rows, std::size_t src_len, std::size_t tgt_len, std::size_t ignored, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> id(1, 39);
    Batch b;
    for (std::size_t i = 0; i < rows * src_len; ++i) {
        b.input_ids.push_back(id(rng));
        b.attention_mask.push_back(i % src_len == src_len - 1 && i / src_len == 0 ? 0 : 1);
    }
    for (std::size_t i = 0; i < rows * tgt_len; ++i) {
        b.decoder_input_ids.push_back(i % tgt_len == 0 ? 0 : id(rng));
        b.labels.push_back(i < ignored ? t5::kIgnoreLabel : id(rng));
    }
    return b;
}

Batch concatenated(const std::vector<Batch>& parts) {
    Batch all;
    for (const Batch& b : parts) {
        all.input_ids.insert(all.input_ids.end(), b.input_ids.begin(), b.input_ids.end());
        all.attention_mask.insert(all.attention_mask.end(), b.attention_mask.begin(), b.attention_mask.end());
        all.decoder_input_ids.insert(all.decoder_input_ids.end(), b.decoder_input_ids.begin(), b.decoder_input_ids.end());
        all.labels.insert(all.labels.end(), b.labels.begin(), b.labels.end());
    }
    return all;
}

void write_random_weights(T5Graph& g, unsigned seed) {
    std::mt19937 rng(seed);
    for (const auto& p : g.program.parameters().all()) {
        const bool norm = p.name.find("norm") != std::string::npos;
        std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
        std::vector<float> w(p.weight.numElements());
        for (auto& x : w) x = dist(rng);
        g.write_weight(p.name, w);
    }
}

constexpr std::size_t kRows = 2, kSrc = 5, kTgt = 4, kMicroBatches = 3;

std::vector<Batch> micro_batches() {
    std::vector<Batch> parts;
    for (std::size_t i = 0; i < kMicroBatches; ++i) parts.push_back(random_batch(kRows, kSrc, kTgt, i, 20 + unsigned(i)));
    return parts;
}

}  // namespace

// k micro-batches of 2 rows give the loss and gradients of one forward_backward on the 6 rows concatenated: the
// mean over every counted label (the micro-batches count 8, 7 and 6). Only float summation order differs (the
// gradient matmuls sum over 2 rows three times instead of 6 once, and the mean's 1/count multiplies at the end
// instead of in d_logits, and OpenBLAS's FMA kernels order a row's products by where it falls in the matmul's
// panels). Measured worst gradient error (norm-wise, a layer norm weight) over OPENBLAS_CORETYPE: 1.0e-6
// Sandybridge, 1.2e-6 Prescott and Nehalem, 3.4e-6 Haswell and Zen (SkylakeX not measured: this host has no
// AVX-512); loss 9.3e-8 to 1.9e-7 (1-2 ulps). The bound 1e-5 (~84 float ulps) leaves 3x over the worst.
TEST(T5BuilderTrainingStep, MicroBatchesEqualOneRunOnTheConcatenatedBatch) {
    const t5::T5Config c = tiny_config(2);
    const std::vector<Batch> parts = micro_batches();
    T5Graph whole(c, t5::BatchShape{kRows * kMicroBatches, kSrc, kTgt});
    write_random_weights(whole, 3);
    whole.set_batch(concatenated(parts));
    whole.run(t5::T5Program::kZeroGradients);
    whole.run(t5::T5Program::kForwardBackward);

    T5Graph step(c, t5::BatchShape{kRows, kSrc, kTgt, kMicroBatches});
    write_random_weights(step, 3);
    step.set_micro_batches(parts);
    step.run(t5::T5Program::kTrainingStep);
    EXPECT_EQ(step.training_result[1], 0.0f) << "finite weights flagged non-finite";
    const double loss_err = std::abs(double(step.training_result[0]) - double(whole.loss)) / std::abs(double(whole.loss));
    EXPECT_LE(loss_err, 1e-5) << "step " << step.training_result[0] << " concatenated " << whole.loss;
    double worst = 0;
    std::string worst_name;
    const auto& whole_params = whole.program.parameters().all();
    const auto& step_params = step.program.parameters().all();
    ASSERT_EQ(whole_params.size(), step_params.size());
    for (std::size_t i = 0; i < whole_params.size(); ++i) {
        const double e = rel_err(step.gradient(step_params[i]), whole.gradient(whole_params[i]));
        EXPECT_LE(e, 1e-5) << step_params[i].name;
        if (e > worst) {
            worst = e;
            worst_name = step_params[i].name;
        }
    }
    std::printf("[training step, %zu micro-batches] loss %.7f vs %.7f (rel %.2e); worst gradient rel err %.2e (%s)\n",
                kMicroBatches, double(step.training_result[0]), double(whole.loss), loss_err, worst,
                worst_name.c_str());

    // the step sets the gradients (it zeroes them first): a second run gives the same ones
    const std::vector<float> first = step.gradient(step_params.back());
    step.run(t5::T5Program::kTrainingStep);
    EXPECT_EQ(step.gradient(step_params.back()), first);
}

// A NaN or an infinity in one weight makes the loss or a gradient non-finite, and the step says so; clean
// weights clear the flag again.
TEST(T5BuilderTrainingStep, ANonFiniteWeightRaisesTheFlag) {
    T5Graph step(tiny_config(2), t5::BatchShape{kRows, kSrc, kTgt, kMicroBatches});
    write_random_weights(step, 3);
    step.set_micro_batches(micro_batches());
    step.run(t5::T5Program::kTrainingStep);
    ASSERT_EQ(step.training_result[1], 0.0f);
    const t5::Parameter& p = step.program.parameters().at("decoder.block.1.layer.2.DenseReluDense.wo.weight");
    const std::vector<float> clean = step.weight(p);
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        std::vector<float> w = clean;
        w[5] = bad;
        step.write_weight(p.name, w);
        step.run(t5::T5Program::kTrainingStep);
        EXPECT_EQ(step.training_result[1], 1.0f) << "weight " << bad << " not flagged";
    }
    step.write_weight(p.name, clean);
    step.run(t5::T5Program::kTrainingStep);
    EXPECT_EQ(step.training_result[1], 0.0f);
}

// With dropout each micro-batch reads its own seed: the same seeds give the same step, another seed for one
// micro-batch another loss.
TEST(T5BuilderTrainingStep, EachMicroBatchReadsItsDropoutSeed) {
    t5::T5Config c = tiny_config(2);
    c.dropout = 0.2f;
    T5Graph step(c, t5::BatchShape{kRows, kSrc, kTgt, kMicroBatches});
    write_random_weights(step, 3);
    step.set_micro_batches(micro_batches(), {1, 1, 2, 2, 3, 3});
    step.run(t5::T5Program::kTrainingStep);
    const float loss = step.training_result[0];
    step.run(t5::T5Program::kTrainingStep);
    EXPECT_EQ(step.training_result[0], loss);
    step.set_micro_batches(micro_batches(), {1, 1, 2, 2, 3, 4});
    step.run(t5::T5Program::kTrainingStep);
    EXPECT_NE(step.training_result[0], loss);
}
