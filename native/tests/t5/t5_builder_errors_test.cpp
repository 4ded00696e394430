// A T5 graph is not built from a config or shape it cannot honour: the error names the field and the value.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include "t5/t5_graph_fixture.h"
#include "t5/t5_program.h"

namespace t5 = ft5::t5;

namespace {

// The message of what building the program throws, or "" when it builds.
std::string build_error(const t5::T5Config& c, const t5::BatchShape& s, const t5::DecodeShape& d = {}) {
    poplar::IPUModel model;
    model.tilesPerIPU = 4;
    const poplar::Device device = model.createDevice();
    poplar::Graph graph(device.getTarget());
    try {
        t5::T5Program program(graph, c, s, d);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(T5BuilderErrors, ConfigAndShapeErrorsNameTheField) {
    const t5::BatchShape shape{2, 5, 4};
    EXPECT_EQ(build_error(ft5::test::tiny_config(1), shape), "");
    t5::T5Config c = ft5::test::tiny_config(1);
    c.vocab = 0;
    EXPECT_NE(build_error(c, shape).find("vocab_size"), std::string::npos);
    c = ft5::test::tiny_config(1);
    c.buckets = 7;
    EXPECT_NE(build_error(c, shape).find("relative_attention_num_buckets must be even"), std::string::npos);
    c = ft5::test::tiny_config(1);
    c.eps = 0.0f;
    EXPECT_NE(build_error(c, shape).find("layer_norm_epsilon"), std::string::npos);
    c = ft5::test::tiny_config(1);
    c.tied = true;
    c.embeddings = t5::EmbeddingLayout::Separate;
    EXPECT_NE(build_error(c, shape).find("tie_word_embeddings"), std::string::npos);
    EXPECT_NE(build_error(ft5::test::tiny_config(1), t5::BatchShape{2, 0, 4}).find("source length"), std::string::npos);
    EXPECT_NE(build_error(ft5::test::tiny_config(1), shape, t5::DecodeShape{2, 5, 0}).find("cache length"), std::string::npos);
}

// A dropout rate is a probability below 1 (1 would drop everything and scale by infinity).
TEST(T5BuilderErrors, DropoutRateOutOfRangeIsRefused) {
    t5::T5Config c = ft5::test::tiny_config(1);
    c.dropout = 0.1f;
    EXPECT_EQ(build_error(c, t5::BatchShape{2, 5, 4}), "");
    c.dropout = 1.0f;
    EXPECT_NE(build_error(c, t5::BatchShape{2, 5, 4}).find("dropout_rate must be in [0, 1), got 1"), std::string::npos);
    c.dropout = -0.1f;
    EXPECT_NE(build_error(c, t5::BatchShape{2, 5, 4}).find("dropout_rate must be in [0, 1), got -0.1"),
              std::string::npos);
}
