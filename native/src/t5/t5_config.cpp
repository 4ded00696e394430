#include "t5/t5_config.h"

#include <cmath>
#include <stdexcept>

namespace ft5::t5 {

namespace {

void require_positive(std::size_t value, const char* field, const char* what = "T5 config") {
    if (value == 0) throw std::invalid_argument(std::string(what) + ": " + field + " must be positive, got 0");
}

}  // namespace

void T5Config::validate() const {
    require_positive(vocab, "vocab_size");
    require_positive(d_model, "d_model");
    require_positive(d_kv, "d_kv");
    require_positive(d_ff, "d_ff");
    require_positive(heads, "num_heads");
    require_positive(encoder_layers, "num_layers");
    require_positive(decoder_layers, "num_decoder_layers");
    require_positive(buckets, "relative_attention_num_buckets");
    require_positive(max_distance, "relative_attention_max_distance");
    if (buckets % 2 != 0)
        throw std::invalid_argument("T5 config: relative_attention_num_buckets must be even (half go to each "
                                    "direction in the encoder), got " + std::to_string(buckets));
    if (!(eps > 0.0f) || !std::isfinite(eps))
        throw std::invalid_argument("T5 config: layer_norm_epsilon must be a positive number, got " +
                                    std::to_string(eps));
    if (!(dropout >= 0.0f && dropout < 1.0f))
        throw std::invalid_argument("T5 config: dropout_rate must be in [0, 1), got " + std::to_string(dropout));
    if (tied && embeddings == EmbeddingLayout::Separate)
        throw std::invalid_argument("T5 config: tie_word_embeddings needs the shared embedding layout");
}

void BatchShape::validate() const {
    require_positive(batch, "batch size", "T5 batch shape");
    require_positive(src_len, "source length", "T5 batch shape");
    require_positive(tgt_len, "target length", "T5 batch shape");
    require_positive(micro_batches, "micro-batch count", "T5 batch shape");
}

}  // namespace ft5::t5
