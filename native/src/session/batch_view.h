// One validated batch as the sessions see it: the caller's arrays, their shapes checked at the ABI.
#pragma once

#include <cstdint>

namespace ft5::session {

struct BatchView {
    int64_t batch = 0;
    int64_t src_len = 0;
    int64_t tgt_len = 0;
    const int32_t* input_ids = nullptr;
    const int32_t* attention_mask = nullptr;  // nullable
    const int32_t* decoder_input_ids = nullptr;
    const int32_t* labels = nullptr;                  // nullable
    const int32_t* decoder_attention_mask = nullptr;  // nullable
    bool training = false;
};

}  // namespace ft5::session
