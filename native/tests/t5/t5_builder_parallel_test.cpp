// Tensor and data parallelism by replication: the graph replicated tp x dp times gives the single-IPU graph's
// logits, loss, gradients (gathered to Hugging Face's shapes) and AdamW step on the same weights and the same whole
// batch; a plan that does not fit the model is refused, naming the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "t5/cross_entropy.h"
#include "t5/t5_graph_fixture.h"
#include "t5/t5_replicated_graph_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

struct Batch {
    std::vector<int> input_ids, attention_mask, decoder_input_ids, labels;
};

constexpr std::size_t kRows = 2, kSrc = 5, kTgt = 4;  // one replica's rows

// rows random rows over the whole vocabulary (the padded shard's last real ids included); the first row's last
// source token is padding and its first label is not counted.
Batch random_batch(std::size_t rows, std::size_t vocab, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> id(1, int(vocab) - 1);
    Batch b;
    for (std::size_t i = 0; i < rows * kSrc; ++i) {
        b.input_ids.push_back(i == 1 ? int(vocab) - 1 : id(rng));
        b.attention_mask.push_back(i == kSrc - 1 ? 0 : 1);
    }
    for (std::size_t i = 0; i < rows * kTgt; ++i) {
        b.decoder_input_ids.push_back(i % kTgt == 0 ? 0 : id(rng));
        b.labels.push_back(i == 0 ? t5::kIgnoreLabel : i == 1 ? int(vocab) - 1 : id(rng));
    }
    return b;
}

// Hugging Face-shaped random weights per parameter name, the same for both graphs.
std::vector<std::vector<float>> random_weights(const t5::Parameters& params, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::vector<float>> out;
    for (const auto& p : params.all()) {
        const bool norm = p.name.find("norm") != std::string::npos;
        std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
        std::size_t n = 1;
        for (const std::size_t d : p.logical_shape) n *= d;
        std::vector<float> w(n);
        for (auto& x : w) x = dist(rng);
        out.push_back(std::move(w));
    }
    return out;
}

double relative(double a, double b) { return std::abs(a - b) / std::abs(b); }

// max |a - b| over the tensor's largest |b|: float noise is relative to the magnitudes summed.
double max_error(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
        scale = std::max(scale, std::abs(double(b[i])));
    }
    return worst / std::max(scale, 1e-30);
}

// ||a - b|| / ||b||: Adam's first step is about lr x sign(g), so a gradient element within float noise of zero
// may move its weight by up to 2 lr either way; a tensor's norm-wise error weighs that one element against all.
double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
        den += double(b[i]) * double(b[i]);
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

struct Case {
    const char* name;
    std::size_t tp, dp;
    t5::FeedForward feed_forward;
    bool tied;
    t5::EmbeddingLayout embeddings;
    std::size_t vocab;  // 41: not a multiple of tp 2, the last shard holds a padding row
};

t5::T5Config config_of(const Case& k) {
    t5::T5Config c = tiny_config(2);
    c.heads = 4;  // divisible by tp 2; d_kv x heads (20) still differs from d_model (12)
    c.vocab = k.vocab;
    c.feed_forward = k.feed_forward;
    c.tied = k.tied;
    c.embeddings = k.embeddings;
    return c;
}

}  // namespace

// Bounds, from the differences measured against the single-IPU graph on the same weights and batch, over the
// cases below and the training step, under OPENBLAS_CORETYPE = Sandybridge, SkylakeX and the host default (Xeon,
// AVX-512). Only float summation order differs: a sharded matmul sums fewer terms, an all-reduce adds the shards
// in replica order, dp splits the weight gradients' row sums. Tensors compare by max |a - b| / max |b| (weights
// after the step: norm-wise), scalars relatively:
//                    measured                bound
//   logits           0 .. 1.7e-6             5e-6
//   loss             0 .. 1.8e-7             1e-6
//   gradients        1.9e-7 .. 4.1e-6        1.5e-5   (training step: 2.2e-6 .. 3.0e-6)
//   gradient norm    0 .. 4.7e-7             2e-6
//   weights, AdamW   1.3e-8 .. 1.3e-7        5e-7
// A wrong piece is far outside: a shard left out of one all-reduce is an O(1) error in that layer's output, the
// padding row counted in the softmax moves the loss by about exp(-max logit) x rows, and gradients not summed over
// the data-parallel group give Adam another sign for a large share of the elements (weights off by ~lr / |w|).
constexpr double kLogitsParallelBound = 5e-6, kLossParallelBound = 1e-6, kGradientParallelBound = 1.5e-5,
                 kNormParallelBound = 2e-6, kWeightParallelBound = 5e-7;

class T5BuilderParallel : public ::testing::TestWithParam<Case> {};

// forward, forward_backward and one AdamW step (weight decay, clipping active) on the replicated graph against
// the single-IPU graph given the dp x rows rows at once.
TEST_P(T5BuilderParallel, MatchesOneIpuOnTheWholeBatch) {
    const Case k = GetParam();
    const t5::T5Config c = config_of(k);
    const t5::ParallelPlan plan{k.tp, k.dp};
    T5Graph one(c, t5::BatchShape{kRows * k.dp, kSrc, kTgt});
    ReplicatedT5Graph many(c, t5::BatchShape{kRows, kSrc, kTgt}, plan);
    const auto& one_params = one.program.parameters().all();
    const auto& many_params = many.program.parameters().all();
    ASSERT_EQ(one_params.size(), many_params.size());
    const auto weights = random_weights(one.program.parameters(), 3);
    for (std::size_t i = 0; i < one_params.size(); ++i) {
        ASSERT_EQ(one_params[i].name, many_params[i].name);
        one.write_weight(one_params[i].name, weights[i]);
        many.write_weight(many_params[i], weights[i]);
    }
    const Batch batch = random_batch(kRows * k.dp, c.vocab, 5);
    one.set_batch(batch);
    many.set_batch(batch);

    one.run(t5::T5Program::kForward);
    many.run(t5::T5Program::kForward);
    const double logits_err = max_error(many.gathered_logits(c.vocab), one.logits);
    EXPECT_LE(logits_err, kLogitsParallelBound);
    for (std::size_t r = 0; r < plan.replicas(); ++r)
        EXPECT_LE(relative(many.loss[r], one.loss), kLossParallelBound) << "replica " << r;

    one.run(t5::T5Program::kZeroGradients);
    one.run(t5::T5Program::kForwardBackward);
    many.run(t5::T5Program::kZeroGradients);
    many.run(t5::T5Program::kForwardBackward);
    double loss_err = 0;
    for (std::size_t r = 0; r < plan.replicas(); ++r)
        loss_err = std::max(loss_err, relative(many.loss[r], one.loss));
    EXPECT_LE(loss_err, kLossParallelBound);
    double grad_err = 0;
    std::string grad_worst;
    for (std::size_t i = 0; i < one_params.size(); ++i) {
        const double e = max_error(many.gradient(many_params[i], true), one.gradient(one_params[i]));
        EXPECT_LE(e, kGradientParallelBound) << one_params[i].name;
        if (e > grad_err) grad_err = e, grad_worst = one_params[i].name;
    }

    t5::AdamWStep step;
    // Adam divides by sqrt(v) + eps, about |g| + eps at the first step: float noise in a gradient element near zero
    // moves its weight by up to lr x noise / eps. An eps of 1e-3, below most gradients' size, keeps the update
    // sign-like where it matters and bounds that amplification, so the weights' bound can stay near the noise.
    step.eps = 1e-3;
    step.learning_rate = 1e-2;
    step.weight_decay = 0.1;
    step.max_grad_norm = 1.0;
    const auto one_result = one.optimizer_step(step);
    const auto many_result = many.optimizer_step(step);
    ASSERT_GT(one_result[0], step.max_grad_norm) << "the clipping this step checks is not active";
    EXPECT_EQ(many_result[1], 0.0f);
    const double norm_err = relative(many_result[0], one_result[0]);
    EXPECT_LE(norm_err, kNormParallelBound);
    double weight_err = 0;
    std::string weight_worst;
    for (std::size_t i = 0; i < one_params.size(); ++i) {
        const double e = rel_l2(many.weight(many_params[i]), one.weight(one_params[i]));
        EXPECT_LE(e, kWeightParallelBound) << one_params[i].name;
        if (e > weight_err) weight_err = e, weight_worst = one_params[i].name;
        // the step summed the gradients over the data-parallel group: every replica holds the whole batch's
        if (i + 1 == one_params.size()) {
            EXPECT_LE(max_error(many.gradient(many_params[i], false), one.gradient(one_params[i])),
                      kGradientParallelBound);
        }
    }
    std::printf("[%s] max error: logits %.2e, loss %.2e, gradients %.2e (%s), norm rel %.2e, weights after "
                "AdamW %.2e (%s)\n",
                k.name, logits_err, loss_err, grad_err, grad_worst.c_str(), norm_err, weight_err,
                weight_worst.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Plans, T5BuilderParallel,
    ::testing::Values(
        Case{"tp2_gated_untied_padded", 2, 1, t5::FeedForward::GatedGelu, false, t5::EmbeddingLayout::Shared, 41},
        Case{"dp2_relu_tied", 1, 2, t5::FeedForward::Relu, true, t5::EmbeddingLayout::Shared, 40},
        Case{"tp2_dp2_gated_tied_padded", 2, 2, t5::FeedForward::GatedGelu, true, t5::EmbeddingLayout::Shared, 41},
        Case{"tp2_dp2_relu_separate", 2, 2, t5::FeedForward::Relu, false, t5::EmbeddingLayout::Separate, 40}),
    [](const ::testing::TestParamInfo<Case>& plan_case) { return std::string(plan_case.param.name); });

// The training step (micro-batches accumulated, the step's mean over every counted label of every replica) under
// tp 2 x dp 2 against the single-IPU step on the same micro-batches of all rows.
TEST(T5BuilderParallelTrainingStep, MicroBatchesMatchOneIpu) {
    const Case k{"", 2, 2, t5::FeedForward::GatedGelu, false, t5::EmbeddingLayout::Shared, 41};
    const t5::T5Config c = config_of(k);
    const t5::ParallelPlan plan{k.tp, k.dp};
    constexpr std::size_t kMicro = 2;
    T5Graph one(c, t5::BatchShape{kRows * k.dp, kSrc, kTgt, kMicro});
    ReplicatedT5Graph many(c, t5::BatchShape{kRows, kSrc, kTgt, kMicro}, plan);
    const auto& one_params = one.program.parameters().all();
    const auto& many_params = many.program.parameters().all();
    const auto weights = random_weights(one.program.parameters(), 4);
    for (std::size_t i = 0; i < one_params.size(); ++i) {
        one.write_weight(one_params[i].name, weights[i]);
        many.write_weight(many_params[i], weights[i]);
    }
    const std::vector<Batch> parts{random_batch(kRows * k.dp, c.vocab, 6), random_batch(kRows * k.dp, c.vocab, 7)};
    one.set_micro_batches(parts);
    many.set_micro_batches(parts);
    one.run(t5::T5Program::kTrainingStep);
    many.run(t5::T5Program::kTrainingStep);
    for (std::size_t r = 0; r < plan.replicas(); ++r) {
        EXPECT_LE(relative(many.training_result[2 * r], one.training_result[0]), kLossParallelBound)
            << "replica " << r;
        EXPECT_EQ(many.training_result[2 * r + 1], 0.0f) << "replica " << r;
    }
    double grad_err = 0;
    for (std::size_t i = 0; i < one_params.size(); ++i) {
        const double e = max_error(many.gradient(many_params[i], true), one.gradient(one_params[i]));
        EXPECT_LE(e, kGradientParallelBound) << one_params[i].name;
        grad_err = std::max(grad_err, e);
    }
    std::printf("[training step tp2 x dp2] loss %.7f vs %.7f (rel %.2e), gradients max error %.2e\n",
                double(many.training_result[0]), double(one.training_result[0]),
                relative(many.training_result[0], one.training_result[0]), grad_err);
}

// A NaN in one data-parallel replica's rows (one weight shard's NaN reaches only its rank's gradients) raises every
// replica's flag.
TEST(T5BuilderParallelTrainingStep, ANonFiniteShardRaisesEveryReplicasFlag) {
    const Case k{"", 2, 2, t5::FeedForward::Relu, false, t5::EmbeddingLayout::Shared, 40};
    const t5::T5Config c = config_of(k);
    ReplicatedT5Graph many(c, t5::BatchShape{kRows, kSrc, kTgt}, t5::ParallelPlan{2, 2});
    const auto& params = many.program.parameters().all();
    const auto weights = random_weights(many.program.parameters(), 4);
    for (std::size_t i = 0; i < params.size(); ++i) many.write_weight(params[i], weights[i]);
    many.set_batch(random_batch(kRows * 2, c.vocab, 6));
    many.run(t5::T5Program::kTrainingStep);
    for (std::size_t r = 0; r < 4; ++r) ASSERT_EQ(many.training_result[2 * r + 1], 0.0f) << "replica " << r;
    // rank 1's half of d_ff: a NaN in its wo columns
    const t5::Parameter& wo = many.program.parameters().at("decoder.block.1.layer.2.DenseReluDense.wo.weight");
    std::size_t index = 0;
    while (params[index].name != wo.name) ++index;
    std::vector<float> w = weights[index];
    w[c.d_ff - 1] = std::numeric_limits<float>::quiet_NaN();
    many.write_weight(wo, w);
    many.run(t5::T5Program::kTrainingStep);
    for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(many.training_result[2 * r + 1], 1.0f) << "replica " << r;
}

// Cached decoding under tp 2 and tp 2 x dp 2: every step's logits (greedy tokens fed back, one beam reorder) equal
// one IPU's on the same prompts. Measured max error (over the logits' largest) 6.7e-7 .. 1.2e-6 under the three
// OpenBLAS kernels; the bound is the forward logits' (kLogitsParallelBound).
TEST(T5BuilderParallelDecode, StepsMatchOneIpu) {
    for (const t5::ParallelPlan& plan : {t5::ParallelPlan{2, 1}, t5::ParallelPlan{2, 2}}) {
        const Case k{"", plan.tp, plan.dp, t5::FeedForward::GatedGelu, true, t5::EmbeddingLayout::Shared, 41};
        const t5::T5Config c = config_of(k);
        constexpr std::size_t kSteps = 4;
        const std::size_t rows = kRows * plan.dp;
        T5Graph one(c, t5::BatchShape{kRows, kSrc, kTgt}, t5::DecodeShape{rows, kSrc, kSteps});
        ReplicatedT5Graph many(c, t5::BatchShape{kRows, kSrc, kTgt}, plan, t5::DecodeShape{kRows, kSrc, kSteps});
        const auto& one_params = one.program.parameters().all();
        const auto& many_params = many.program.parameters().all();
        const auto weights = random_weights(one.program.parameters(), 8);
        for (std::size_t i = 0; i < one_params.size(); ++i) {
            one.write_weight(one_params[i].name, weights[i]);
            many.write_weight(many_params[i], weights[i]);
        }
        const Batch prompts = random_batch(rows, c.vocab, 9);
        one.decode_input_ids = prompts.input_ids;
        one.decode_attention_mask = prompts.attention_mask;
        many.set_prompts(prompts.input_ids, prompts.attention_mask, kRows, kSrc);
        one.run(t5::T5Program::kDecodeBegin);
        many.run(t5::T5Program::kDecodeBegin);
        std::vector<int> tokens(rows, 0), parents(rows);
        double worst = 0;
        for (std::size_t t = 0; t < kSteps; ++t) {
            // at step 2 each data-parallel group's two rows swap their histories (a beam reorder)
            for (std::size_t r = 0; r < rows; ++r) parents[r] = int(t == 2 ? (r ^ 1u) : r);
            std::copy(tokens.begin(), tokens.end(), one.decode_tokens.begin());
            std::copy(parents.begin(), parents.end(), one.decode_parents.begin());
            std::vector<int> local_parents(rows);  // a replica's parents index its own block's rows
            for (std::size_t r = 0; r < rows; ++r) local_parents[r] = parents[r] % int(kRows);
            many.set_tokens(tokens, local_parents, kRows);
            one.run(t5::T5Program::kDecodeStep);
            many.run(t5::T5Program::kDecodeStep);
            const double e = max_error(many.gathered_decode_logits(kRows, c.vocab), one.decode_logits);
            EXPECT_LE(e, kLogitsParallelBound) << "tp " << plan.tp << " dp " << plan.dp << " step " << t;
            worst = std::max(worst, e);
            for (std::size_t r = 0; r < rows; ++r) {
                const float* row = one.decode_logits.data() + r * c.vocab;
                tokens[r] = int(std::max_element(row, row + c.vocab) - row);
            }
        }
        std::printf("[decode tp%zu x dp%zu] %zu steps, logits max error %.2e\n", plan.tp, plan.dp, kSteps, worst);
    }
}

// The host's view of shards: a weight written as Hugging Face's tensor reads back as it was; each replica holds its
// rank's rows of the padded vocabulary (the padding row zero), and the replicas of one rank hold the same shard.
TEST(T5BuilderParallelShards, ReplicasHoldTheirRanksShardOfTheLogicalTensor) {
    const Case k{"", 2, 2, t5::FeedForward::Relu, false, t5::EmbeddingLayout::Shared, 41};
    const t5::T5Config c = config_of(k);
    ReplicatedT5Graph many(c, t5::BatchShape{kRows, kSrc, kTgt}, t5::ParallelPlan{2, 2});
    const t5::Parameter& shared = many.program.parameters().at("shared.weight");
    ASSERT_EQ(shared.split_dim, 0);
    ASSERT_EQ(shared.shard_extent, 21u);  // 41 ids in shards of 21: rank 1 holds ids 21..40 and one padding row
    std::vector<float> logical(c.vocab * c.d_model);
    for (std::size_t i = 0; i < logical.size(); ++i) logical[i] = float(i) + 1.0f;
    many.write_weight(shared, logical);
    EXPECT_EQ(many.weight(shared), logical);
    const std::vector<float> blocks = many.replica_buffer(t5::Parameters::weightHandle(shared.name), shared);
    const std::size_t n = t5::shardElements(shared);
    ASSERT_EQ(n, 21 * c.d_model);
    for (std::size_t r = 0; r < 4; ++r) {
        const std::size_t rank = r % 2;
        for (std::size_t row = 0; row < 21; ++row) {
            const std::size_t id = rank * 21 + row;
            const float want = id < c.vocab ? logical[id * c.d_model] : 0.0f;
            EXPECT_EQ(blocks[r * n + row * c.d_model], want) << "replica " << r << " row " << row;
        }
    }
    // a whole parameter: every replica holds all of it
    const t5::Parameter& norm = many.program.parameters().at("encoder.final_layer_norm.weight");
    EXPECT_FALSE(norm.split());
    const std::vector<float> ones(c.d_model, 1.5f);
    many.write_weight(norm, ones);
    EXPECT_EQ(many.replica_buffer(t5::Parameters::weightHandle(norm.name), norm),
              std::vector<float>(4 * c.d_model, 1.5f));
}

// Dropout under tp 2 with one seed for both ranks: a site on a whole activation (the embedding's output) drops the
// same elements on both ranks, as the ranks' copies must stay equal; a split site (attention probabilities, the
// feed-forward's hidden layer: each rank's own heads or d_ff) drops independently on each rank.
TEST(T5BuilderParallelDropout, WholeSitesDropAlikeAndSplitSitesIndependently) {
    const Case k{"", 2, 1, t5::FeedForward::Relu, false, t5::EmbeddingLayout::Shared, 40};
    t5::T5Config c = config_of(k);
    c.dropout = 0.5f;
    std::vector<std::string> sites;
    ReplicatedT5Graph many(c, t5::BatchShape{kRows, kSrc, kTgt}, t5::ParallelPlan{2, 1}, {},
                           [&](poplar::Graph& graph, const t5::T5Program& program) {
                               // forward_backward's sites come first (the training step's follow, named alike)
                               for (const auto& d : program.dropout()->sites()) {
                                   const std::string handle = "out/" + std::to_string(sites.size()) + "/" + d.name;
                                   graph.createHostRead(handle, d.output);
                                   graph.createHostRead("in/" + handle, d.input);
                                   sites.push_back(handle);
                               }
                           });
    const auto& params = many.program.parameters().all();
    const auto weights = random_weights(many.program.parameters(), 4);
    for (std::size_t i = 0; i < params.size(); ++i) many.write_weight(params[i], weights[i]);
    many.set_batch(random_batch(kRows, c.vocab, 6));
    many.run(t5::T5Program::kZeroGradients);
    many.run(t5::T5Program::kForwardBackward);
    std::size_t whole = 0, split = 0;
    for (std::size_t s = 0; s < sites.size() / 2; ++s) {
        const auto& d = many.program.dropout()->sites()[s];
        std::vector<float> out(2 * d.output.numElements());
        std::vector<float> in(out.size());
        many.engine->readTensor(sites[s], out.data(), out.data() + out.size());
        many.engine->readTensor("in/" + sites[s], in.data(), in.data() + in.size());
        // dropped: zero out of a non-zero in (a masked key's probability is 0 either way)
        std::size_t differ = 0, n = 0;
        const std::size_t count = d.output.numElements();
        for (std::size_t i = 0; i < count; ++i) {
            if (in[i] == 0.0f || in[count + i] == 0.0f) continue;
            ++n;
            differ += (out[i] == 0.0f) != (out[count + i] == 0.0f) ? 1 : 0;
        }
        const bool is_split = d.name.find("probs_dropout") != std::string::npos ||
                              (d.name.find("/ff/dropout") != std::string::npos);
        if (is_split) {
            ++split;
            // independent masks at rate 0.5 disagree on about half the elements
            EXPECT_GT(differ, n / 4) << d.name;
        } else {
            ++whole;
            EXPECT_EQ(differ, 0u) << d.name;
        }
    }
    EXPECT_GT(whole, 0u);
    EXPECT_GT(split, 0u);
}

namespace {

std::string plan_error(const t5::T5Config& c, const t5::ParallelPlan& plan, std::size_t replication_factor,
                       const t5::DecodeShape& decode = {}) {
    poplar::IPUModel model;
    model.numIPUs = unsigned(replication_factor);
    model.tilesPerIPU = 4;
    const poplar::Device device = model.createDevice();
    poplar::Graph graph(device.getTarget(), poplar::replication_factor(unsigned(replication_factor)));
    try {
        t5::T5Program program(graph, c, t5::BatchShape{kRows, kSrc, kTgt}, decode, plan);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(T5BuilderParallelErrors, ABadPlanNamesTheField) {
    t5::T5Config c = tiny_config(1);
    c.heads = 4;
    EXPECT_EQ(plan_error(c, {2, 2}, 4), "");
    t5::T5Config odd_heads = c;
    odd_heads.heads = 3;
    EXPECT_EQ(plan_error(odd_heads, {2, 1}, 2), "parallel plan: tp 2 must divide the T5 config's num_heads (3)");
    t5::T5Config odd_ff = c;
    odd_ff.d_ff = 21;
    EXPECT_EQ(plan_error(odd_ff, {2, 1}, 2), "parallel plan: tp 2 must divide the T5 config's d_ff (21)");
    EXPECT_NE(plan_error(c, {0, 1}, 1).find("tp (tensor-parallel ranks) must be positive"), std::string::npos);
    EXPECT_NE(plan_error(c, {1, 0}, 1).find("dp (data-parallel groups) must be positive"), std::string::npos);
    EXPECT_EQ(plan_error(c, {2, 2}, 2),
              "parallel plan: tp x dp = 4 replicas, but the graph's replication factor is 2");
}
