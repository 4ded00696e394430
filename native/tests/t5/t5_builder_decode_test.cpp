// Cached decoding on the T5 graph: greedy ids against the fixtures (EOS and the pad fill of finished rows
// included), and the cached step logits against the uncached forward program's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "t5/t5_graph_fixture.h"
#include "t5_session_fixture.h"

using namespace ft5::test;
namespace t5 = ft5::t5;

namespace {

// The fixtures' generation config: decoder start and pad 0, EOS 1.
constexpr int kStart = 0, kPad = 0, kEos = 1;

struct Prompts {
    std::size_t batch = 0, src_len = 0;
    std::vector<int32_t> ids, mask;
};

Prompts prompts(const SafetensorsFile& ref) {
    Prompts p;
    const auto& ids = ref.at("gen_input_ids");
    p.batch = std::size_t(ids.shape[0]);
    p.src_len = std::size_t(ids.shape[1]);
    p.ids = ids.i32();
    p.mask = ref.at("gen_attention_mask").i32();
    return p;
}

// Greedy search as transformers does it: rows that emitted EOS continue with pad; stop when all are done.
// step_logits, when given, receives each step's logits.
std::vector<std::vector<int32_t>> greedy(T5Graph& g, const Prompts& p, std::size_t max_new, std::size_t vocab,
                                         std::vector<std::vector<float>>* step_logits = nullptr) {
    g.decode_input_ids.assign(p.ids.begin(), p.ids.end());
    g.decode_attention_mask.assign(p.mask.begin(), p.mask.end());
    g.run(t5::T5Program::kDecodeBegin);
    std::vector<std::vector<int32_t>> seq(p.batch, std::vector<int32_t>{kStart});
    std::vector<bool> running(p.batch, true);
    std::fill(g.decode_tokens.begin(), g.decode_tokens.end(), kStart);
    for (std::size_t t = 0; t < max_new; ++t) {
        g.run(t5::T5Program::kDecodeStep);
        if (step_logits) step_logits->push_back(g.decode_logits);
        bool any = false;
        for (std::size_t r = 0; r < p.batch; ++r) {
            const float* row = g.decode_logits.data() + r * vocab;
            int32_t next = int32_t(std::max_element(row, row + vocab) - row);
            if (!running[r]) next = kPad;
            if (next == kEos) running[r] = false;
            any = any || running[r];
            seq[r].push_back(next);
            g.decode_tokens[r] = next;
        }
        if (!any) break;
    }
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

std::string param_name(const ::testing::TestParamInfo<const char*>& info) {
    std::string n = info.param;
    for (auto& c : n)
        if (c == '-') c = '_';
    return n;
}

}  // namespace

class T5BuilderGreedy : public ::testing::TestWithParam<const char*> {};

TEST_P(T5BuilderGreedy, GreedyIdsMatchReference) {
    const SafetensorsFile ref(fixture_path(GetParam(), "reference_forward_backward.safetensors"));
    const Prompts p = prompts(ref);
    const auto want = ref.at("greedy_ids");
    const std::size_t max_new = std::size_t(want.shape[1] - 1);
    auto g = fixture_graph(GetParam(), t5::BatchShape{1, 1, 1}, t5::DecodeShape{p.batch, p.src_len, max_new});
    expect_ids(greedy(*g, p, max_new, g->program.parameters().at("lm_head.weight").weight.dim(0)), want);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, T5BuilderGreedy, ::testing::Values("flan-t5-tiny", "hf-t5-tiny"), param_name);

TEST(T5BuilderDecode, FinetunedModelStopsAtEos) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny-mnli", "reference_generation.safetensors"));
    const Prompts p = prompts(ref);
    auto g = fixture_graph("flan-t5-tiny-mnli", t5::BatchShape{1, 1, 1}, t5::DecodeShape{p.batch, p.src_len, 12});
    // every reference row is [0, label, 1]: generation ends once all rows emitted EOS, well before 12 tokens
    expect_ids(greedy(*g, p, 12, g->program.parameters().at("lm_head.weight").weight.dim(0)), ref.at("greedy_ids"));
}

TEST(T5BuilderDecode, CachedLogitsEqualFullForward) {
    const SafetensorsFile ref(fixture_path("flan-t5-tiny", "reference_forward_backward.safetensors"));
    const Prompts p = prompts(ref);
    const std::size_t steps = 8;
    auto g = fixture_graph("flan-t5-tiny", t5::BatchShape{p.batch, p.src_len, steps},
                           t5::DecodeShape{p.batch, p.src_len, steps});
    const std::size_t vocab = g->program.parameters().at("lm_head.weight").weight.dim(0);
    std::vector<std::vector<float>> cached;
    const auto seq = greedy(*g, p, steps, vocab, &cached);
    ASSERT_EQ(cached.size(), steps);
    // uncached: the whole prefix through the forward program at once; position t's logits are step t's
    g->input_ids.assign(p.ids.begin(), p.ids.end());
    g->attention_mask.assign(p.mask.begin(), p.mask.end());
    for (std::size_t r = 0; r < p.batch; ++r)
        for (std::size_t t = 0; t < steps; ++t) {
            g->decoder_input_ids[r * steps + t] = seq[r][t];
            g->labels[r * steps + t] = seq[r][t + 1];
        }
    g->run(t5::T5Program::kForward);
    double worst = 0;
    for (std::size_t t = 0; t < steps; ++t) {
        std::vector<float> uncached;
        for (std::size_t r = 0; r < p.batch; ++r) {
            const float* row = g->logits.data() + (r * steps + t) * vocab;
            uncached.insert(uncached.end(), row, row + vocab);
        }
        worst = std::max(worst, rel_err(cached[t], uncached));
    }
    std::printf("[flan-t5-tiny graph] cached vs uncached logits: worst rel err %.3e over %zu steps\n", worst, steps);
    // the session's bound for the same comparison through the ABI (SessionDecode.CachedLogitsEqualFullForward)
    EXPECT_LE(worst, 1e-5);
}
