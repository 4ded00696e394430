// A T5 graph is not built from a config or shape it cannot honour: the error names the field and the value.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include "t5/t5_program.h"

namespace t5 = ft5::t5;

namespace {

t5::T5Config tiny() {
    t5::T5Config c;
    c.vocab = 40;
    c.d_model = 12;
    c.d_kv = 5;
    c.heads = 3;
    c.d_ff = 20;
    c.encoder_layers = 1;
    c.decoder_layers = 1;
    c.buckets = 8;
    c.max_distance = 16;
    return c;
}

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
    EXPECT_EQ(build_error(tiny(), shape), "");
    t5::T5Config c = tiny();
    c.vocab = 0;
    EXPECT_NE(build_error(c, shape).find("vocab_size"), std::string::npos);
    c = tiny();
    c.buckets = 7;
    EXPECT_NE(build_error(c, shape).find("relative_attention_num_buckets must be even"), std::string::npos);
    c = tiny();
    c.eps = 0.0f;
    EXPECT_NE(build_error(c, shape).find("layer_norm_epsilon"), std::string::npos);
    c = tiny();
    c.tied = true;
    c.embeddings = t5::EmbeddingLayout::Separate;
    EXPECT_NE(build_error(c, shape).find("tie_word_embeddings"), std::string::npos);
    EXPECT_NE(build_error(tiny(), t5::BatchShape{2, 0, 4}).find("source length"), std::string::npos);
    EXPECT_NE(build_error(tiny(), shape, t5::DecodeShape{2, 5, 0}).find("cache length"), std::string::npos);
}

// A dropout rate is a probability below 1 (1 would drop everything and scale by infinity).
TEST(T5BuilderErrors, DropoutRateOutOfRangeIsRefused) {
    t5::T5Config c = tiny();
    c.dropout = 0.1f;
    EXPECT_EQ(build_error(c, t5::BatchShape{2, 5, 4}), "");
    c.dropout = 1.0f;
    EXPECT_NE(build_error(c, t5::BatchShape{2, 5, 4}).find("dropout_rate must be in [0, 1), got 1"), std::string::npos);
    c.dropout = -0.1f;
    EXPECT_NE(build_error(c, t5::BatchShape{2, 5, 4}).find("dropout_rate must be in [0, 1), got -0.1"),
              std::string::npos);
}
