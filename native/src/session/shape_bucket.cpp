#include "session/shape_bucket.h"

#include <algorithm>
#include <cstring>

namespace ft5::session {

std::size_t bucket_of(std::size_t n) {
    std::size_t b = 1;
    while (b < n) b <<= 1;
    return b;
}

void pad_into(const BatchView& b, const t5::BatchShape& shape, std::vector<int>& input_ids,
              std::vector<int>& attention_mask, std::vector<int>& decoder_input_ids, std::vector<int>& labels) {
    const std::size_t S = shape.src_len, T = shape.tgt_len;
    std::fill(input_ids.begin(), input_ids.end(), 0);
    std::fill(attention_mask.begin(), attention_mask.end(), 0);
    std::fill(decoder_input_ids.begin(), decoder_input_ids.end(), 0);
    std::fill(labels.begin(), labels.end(), -100);
    for (int64_t r = 0; r < b.batch; ++r) {
        for (int64_t s = 0; s < b.src_len; ++s) {
            const std::size_t i = std::size_t(r * b.src_len + s);
            input_ids[r * S + s] = b.input_ids[i];
            attention_mask[r * S + s] = b.attention_mask ? b.attention_mask[i] : 1;
        }
        for (int64_t t = 0; t < b.tgt_len; ++t) {
            const std::size_t i = std::size_t(r * b.tgt_len + t);
            decoder_input_ids[r * T + t] = b.decoder_input_ids[i];
            if (b.labels) labels[r * T + t] = b.labels[i];
        }
    }
    // a padding row sees its first position: a row with every key masked would turn the softmax into 0/0
    for (std::size_t r = std::size_t(b.batch); r < shape.batch; ++r) attention_mask[r * S] = 1;
}

void unpad(const float* padded, std::size_t padded_len, std::size_t rows, std::size_t len, std::size_t width,
           float* out) {
    for (std::size_t r = 0; r < rows; ++r)
        std::memcpy(out + r * len * width, padded + r * padded_len * width, len * width * sizeof(float));
}

}  // namespace ft5::session
