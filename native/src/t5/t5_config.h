// The Hugging Face T5 config fields that shape the graph, and the static batch shape a program is built for.
#pragma once

#include <cstddef>
#include <string>

namespace ft5::t5 {

enum class FeedForward { GatedGelu, Relu };

// Which matrices embed tokens: one `shared.weight` for encoder and decoder (the hub's Flan-T5 files), or
// `encoder.embed_tokens.weight` and `decoder.embed_tokens.weight` apart (transformers 5 untied saves).
enum class EmbeddingLayout { Shared, Separate };

struct T5Config {
    std::size_t vocab = 0;
    std::size_t d_model = 0;
    std::size_t d_kv = 0;
    std::size_t d_ff = 0;
    std::size_t heads = 0;
    std::size_t encoder_layers = 0;
    std::size_t decoder_layers = 0;
    std::size_t buckets = 32;
    std::size_t max_distance = 128;
    float eps = 1e-6f;
    FeedForward feed_forward = FeedForward::GatedGelu;
    bool tied = false;
    EmbeddingLayout embeddings = EmbeddingLayout::Shared;
    float dropout = 0.0f;

    std::size_t inner() const { return heads * d_kv; }

    // Throws std::invalid_argument naming the first field out of range.
    void validate() const;
};

// A Poplar graph is static: one program serves one batch size and one pair of sequence lengths.
struct BatchShape {
    std::size_t batch = 0;
    std::size_t src_len = 0;
    std::size_t tgt_len = 0;
    std::size_t micro_batches = 1;  // the training step's micro-batches of `batch` rows, accumulated

    void validate() const;
};

}  // namespace ft5::t5
