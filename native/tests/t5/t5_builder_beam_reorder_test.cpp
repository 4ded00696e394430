// The decode step's beam reorder: a row given a parent continues that parent's history (its self-attention cache,
// its encoder keys and values, its mask). Checked against decoding that history directly from the start, with the
// rows arranged so, and no reorder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "t5/t5_graph_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

constexpr std::size_t kRows = 2, kSrc = 5, kMaxLen = 6;

std::unique_ptr<T5Graph> decoding_graph() {
    auto g = std::make_unique<T5Graph>(tiny_config(2), t5::BatchShape{kRows, kSrc, 4}, t5::DecodeShape{kRows, kSrc, kMaxLen});
    std::mt19937 rng(17);
    for (const auto& p : g->program.parameters().all()) {
        const bool norm = p.name.find("norm") != std::string::npos;
        std::normal_distribution<float> dist(norm ? 1.0f : 0.0f, norm ? 0.1f : 0.4f);
        std::vector<float> w(p.weight.numElements());
        for (auto& x : w) x = dist(rng);
        g->write_weight(p.name, w);
    }
    return g;
}

struct Prompt {
    std::vector<int> ids, mask;
};

// Two prompts; the second has a padded last token, so the rows' cross-attention masks differ.
const Prompt kPrompts[2] = {{{3, 7, 11, 5, 9}, {1, 1, 1, 1, 1}}, {{8, 2, 14, 6, 0}, {1, 1, 1, 1, 0}}};

// Begins on the prompts of rows (prompt index per row), then runs the steps: each a token per row and the rows'
// parents. Returns the last step's logits.
std::vector<float> decode(T5Graph& g, const std::vector<int>& prompt_of_row,
                          const std::vector<std::vector<int>>& tokens, const std::vector<std::vector<int>>& parents) {
    g.decode_input_ids.clear();
    g.decode_attention_mask.clear();
    for (const int p : prompt_of_row) {
        g.decode_input_ids.insert(g.decode_input_ids.end(), kPrompts[p].ids.begin(), kPrompts[p].ids.end());
        g.decode_attention_mask.insert(g.decode_attention_mask.end(), kPrompts[p].mask.begin(), kPrompts[p].mask.end());
    }
    g.run(t5::T5Program::kDecodeBegin);
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        g.decode_tokens.assign(tokens[t].begin(), tokens[t].end());
        g.decode_parents.assign(parents[t].begin(), parents[t].end());
        g.run(t5::T5Program::kDecodeStep);
    }
    return g.decode_logits;
}

const std::vector<int> kIdentity{0, 1};

// A reordered row and the directly decoded one do the same arithmetic, but the direct run holds its prompt in the
// other row of the batch, and most OpenBLAS kernels sum a row's products in an order that depends on where the row
// falls in the matmul's panels. Measured worst |difference| / max |logit| over OPENBLAS_CORETYPE: 0 on Sandybridge,
// 2.6e-7 Prescott, 3.4e-7 Haswell and Zen, 3.7e-7 Nehalem (SkylakeX not measured: this host has no AVX-512). The
// bound 2e-6 (~17 float ulps of the largest logit) leaves 5x over the worst; decoding without the reorder
// differs by 1.2 times the largest logit.
constexpr double kReorderBound = 2e-6;

double relative_gap(const std::vector<float>& a, const std::vector<float>& b) {
    double largest = 0, worst = 0;
    for (const float x : b) largest = std::max(largest, double(std::abs(x)));
    for (std::size_t i = 0; i < b.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
    return worst / largest;
}

void expect_same_logits(const std::vector<float>& reordered, const std::vector<float>& direct, const char* what) {
    ASSERT_EQ(reordered.size(), direct.size());
    const double gap = relative_gap(reordered, direct);
    std::printf("[beam reorder, %s] worst |reordered - direct| / max |logit| = %.2e\n", what, gap);
    EXPECT_LE(gap, kReorderBound);
}

}  // namespace

// Rows swap their parents at the third step: row 0 continues prompt 1 with tokens (0, 21) and row 1 prompt 0 with
// (0, 12). Decoding those histories directly gives the same logits (each row's arithmetic is the same; only where its
// cache comes from changes).
TEST(T5BuilderBeamReorder, SwappedParentsContinueEachOthersHistory) {
    auto g = decoding_graph();
    const std::vector<float> reordered =
        decode(*g, {0, 1}, {{0, 0}, {12, 21}, {30, 31}}, {kIdentity, kIdentity, {1, 0}});
    const std::vector<float> direct = decode(*g, {1, 0}, {{0, 0}, {21, 12}, {30, 31}}, {kIdentity, kIdentity, kIdentity});
    expect_same_logits(reordered, direct, "swapped parents");
    // and the reorder matters: without it the logits differ
    const std::vector<float> unordered =
        decode(*g, {0, 1}, {{0, 0}, {12, 21}, {30, 31}}, {kIdentity, kIdentity, kIdentity});
    ASSERT_EQ(unordered.size(), direct.size());
    const double gap = relative_gap(unordered, direct);
    std::printf("[beam reorder, no reorder] worst |unordered - direct| / max |logit| = %.2e\n", gap);
    EXPECT_GT(gap, 1000 * kReorderBound);
}

// Both beams descend from row 0 (the usual beam search case: one beam's two best continuations).
TEST(T5BuilderBeamReorder, ARepeatedParentCopiesItsHistoryToBothRows) {
    auto g = decoding_graph();
    const std::vector<float> reordered =
        decode(*g, {0, 1}, {{0, 0}, {12, 21}, {30, 31}}, {kIdentity, kIdentity, {0, 0}});
    const std::vector<float> direct = decode(*g, {0, 0}, {{0, 0}, {12, 12}, {30, 31}}, {kIdentity, kIdentity, kIdentity});
    expect_same_logits(reordered, direct, "repeated parent");
}
