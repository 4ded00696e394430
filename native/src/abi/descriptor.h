// Reads a caller's struct_size-prefixed descriptor: fields past the caller's struct_size keep the defaults,
// fields past ours (a newer caller) are ignored. This is what lets descriptors grow append-only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "abi/error.h"

namespace ft5::abi {

template <typename Desc>
Desc read_desc(const Desc* desc, void (*init)(Desc*), const char* argument) {
    if (desc == nullptr) invalid_argument(std::string(argument) + " is NULL");
    if (desc->struct_size < sizeof(uint32_t)) {
        invalid_argument(std::string(argument) + "->struct_size is " + std::to_string(desc->struct_size) +
                         "; initialise the descriptor with its _init function");
    }
    Desc out;
    init(&out);
    const size_t n = std::min<size_t>(desc->struct_size, sizeof(Desc));
    std::memcpy(static_cast<void*>(&out), desc, n);
    out.struct_size = sizeof(Desc);
    return out;
}

// For out-parameters: the caller states how much room it has; we write only that much.
template <typename Desc>
void write_desc(Desc* out, const Desc& value, const char* argument) {
    if (out == nullptr) invalid_argument(std::string(argument) + " is NULL");
    if (out->struct_size < sizeof(uint32_t)) {
        invalid_argument(std::string(argument) + "->struct_size is " + std::to_string(out->struct_size) +
                         "; set it to sizeof the struct before the call");
    }
    const uint32_t caller_size = out->struct_size;
    const size_t n = std::min<size_t>(caller_size, sizeof(Desc));
    std::memcpy(static_cast<void*>(out), &value, n);
    out->struct_size = uint32_t(n);
}

template <typename T>
T* require_out(T* out, const char* argument) {
    if (out == nullptr) invalid_argument(std::string(argument) + " is NULL");
    return out;
}

}  // namespace ft5::abi
