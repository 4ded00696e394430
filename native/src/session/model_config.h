// The Hugging Face T5 config fields that change the math, validated once when a session is created.
#pragma once

#include <cstdint>

#include "ft5/ft5.h"

namespace ft5::session {

struct ModelConfig {
    int64_t vocab = 0;
    int64_t d_model = 0;
    int64_t d_kv = 0;
    int64_t d_ff = 0;
    int64_t heads = 0;
    int64_t encoder_layers = 0;
    int64_t decoder_layers = 0;
    int64_t buckets = 0;
    int64_t max_distance = 0;
    float eps = 1e-6f;
    bool gated = true;
    bool tied = false;
    bool separate_embeddings = false;
    float dropout = 0.0f;
    int32_t pad_id = 0;
    int32_t eos_id = 1;
    int32_t start_id = 0;
    uint64_t seed = 0;

    int64_t inner() const noexcept { return heads * d_kv; }

    // Throws FT5_ERR_INVALID_ARGUMENT naming the field when a value is out of range.
    static ModelConfig from_desc(const ft5_model_desc& desc);
};

}  // namespace ft5::session
