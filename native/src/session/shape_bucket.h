// A Poplar graph is static, the ABI takes any batch shape: a batch (or a decode) runs on the smallest program
// ft5_session_prepare declared (at its shape) that fits it, else on the program of its bucket, each dimension rounded
// up to a power of two (compiled when first met). Which program runs a batch depends on the batch and the declared
// shapes only, never on what ran before: dropout draws its mask over the program's shape. It is padded with rows and
// positions that change nothing (attention mask 0, labels -100, pad tokens after the causal decoder's last real position; a padding row
// sees only its first position). The padded math is the same: masked keys weigh exactly 0, ignored labels add no
// loss and no gradient, and later decoder positions never reach earlier ones. Rounding to powers of two bounds the
// programs a session builds to a few per dimension.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "session/batch_view.h"
#include "t5/t5_config.h"

namespace ft5::session {

std::size_t bucket_of(std::size_t n);

// Writes batch into the stream buffers of a program of shape (one micro-batch block), padded as above.
void pad_into(const BatchView& batch, const t5::BatchShape& shape, std::vector<int>& input_ids,
              std::vector<int>& attention_mask, std::vector<int>& decoder_input_ids, std::vector<int>& labels);

// Copies the batch's part of a padded [padded rows, padded_len, width] output into out [rows, len, width].
void unpad(const float* padded, std::size_t padded_len, std::size_t rows, std::size_t len, std::size_t width,
           float* out);

}  // namespace ft5::session
