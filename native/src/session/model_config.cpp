#include "session/model_config.h"

#include <cmath>
#include <string>

#include "abi/error.h"

namespace ft5::session {
namespace {

// Far beyond any T5 (XXL: d_ff 10240, 24 layers, 64 heads): catches garbage in uninitialised descriptors.
constexpr uint32_t kMaxDim = 1u << 20;
constexpr uint32_t kMaxLayers = 1024;

int64_t checked_dim(uint32_t value, const char* field, uint32_t max, uint32_t min = 1) {
    if (value < min || value > max) {
        invalid_argument(std::string("model->") + field + " is " + std::to_string(value) + "; expected " +
                         std::to_string(min) + ".." + std::to_string(max));
    }
    return int64_t(value);
}

}  // namespace

ModelConfig ModelConfig::from_desc(const ft5_model_desc& d) {
    ModelConfig c;
    c.vocab = checked_dim(d.vocab_size, "vocab_size", 1u << 24);
    c.d_model = checked_dim(d.d_model, "d_model", kMaxDim);
    c.d_kv = checked_dim(d.d_kv, "d_kv", kMaxDim);
    c.d_ff = checked_dim(d.d_ff, "d_ff", kMaxDim);
    c.heads = checked_dim(d.num_heads, "num_heads", 4096);
    c.encoder_layers = checked_dim(d.num_layers, "num_layers", kMaxLayers);
    c.decoder_layers = checked_dim(d.num_decoder_layers, "num_decoder_layers", kMaxLayers);
    c.buckets = checked_dim(d.relative_attention_num_buckets, "relative_attention_num_buckets", 1u << 16, 2);
    c.max_distance = checked_dim(d.relative_attention_max_distance, "relative_attention_max_distance", 1u << 24, 1);
    if (c.inner() > int64_t(kMaxDim)) {
        invalid_argument("model->num_heads * d_kv is " + std::to_string(c.inner()) + "; at most " +
                         std::to_string(kMaxDim));
    }
    if (!(d.layer_norm_epsilon > 0.0f) || !std::isfinite(d.layer_norm_epsilon)) {
        invalid_argument("model->layer_norm_epsilon is " + std::to_string(d.layer_norm_epsilon) +
                         "; expected a finite value > 0");
    }
    c.eps = d.layer_norm_epsilon;
    if (d.feed_forward_proj != FT5_FFN_GATED_GELU && d.feed_forward_proj != FT5_FFN_RELU) {
        invalid_argument("model->feed_forward_proj is " + std::to_string(int(d.feed_forward_proj)) +
                         "; expected FT5_FFN_GATED_GELU or FT5_FFN_RELU");
    }
    c.gated = d.feed_forward_proj == FT5_FFN_GATED_GELU;
    if (d.tie_word_embeddings != 0 && d.tie_word_embeddings != 1) {
        invalid_argument("model->tie_word_embeddings is " + std::to_string(d.tie_word_embeddings) + "; expected 0 or 1");
    }
    c.tied = d.tie_word_embeddings == 1;
    if (d.embedding_layout != FT5_EMBEDDING_SHARED && d.embedding_layout != FT5_EMBEDDING_SEPARATE) {
        invalid_argument("model->embedding_layout is " + std::to_string(int(d.embedding_layout)) +
                         "; expected FT5_EMBEDDING_SHARED or FT5_EMBEDDING_SEPARATE");
    }
    c.separate_embeddings = d.embedding_layout == FT5_EMBEDDING_SEPARATE;
    if (c.tied && c.separate_embeddings) {
        invalid_argument("model->tie_word_embeddings = 1 needs embedding_layout FT5_EMBEDDING_SHARED: the tied "
                         "lm_head is the one shared embedding");
    }
    if (!(d.dropout_rate >= 0.0f && d.dropout_rate < 1.0f)) {
        invalid_argument("model->dropout_rate is " + std::to_string(d.dropout_rate) + "; expected 0 <= p < 1");
    }
    c.dropout = d.dropout_rate;
    auto check_id = [&](int32_t id, const char* field) {
        if (id < 0 || int64_t(id) >= c.vocab) {
            invalid_argument(std::string("model->") + field + " is " + std::to_string(id) + "; expected [0, " +
                             std::to_string(c.vocab) + ")");
        }
        return id;
    };
    c.pad_id = check_id(d.pad_token_id, "pad_token_id");
    c.eos_id = check_id(d.eos_token_id, "eos_token_id");
    c.start_id = check_id(d.decoder_start_token_id, "decoder_start_token_id");
    c.seed = d.seed;
    return c;
}

}  // namespace ft5::session
