// Validates opaque handles before they are dereferenced: a destroyed, foreign or wrong-kind pointer is
// reported as FT5_ERR_INVALID_HANDLE instead of being read.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "abi/error.h"

namespace ft5::abi {

enum class HandleKind { Device, Tensor, Session };

const char* handle_kind_name(HandleKind kind) noexcept;

class HandleRegistry {
public:
    static HandleRegistry& instance();

    void add(const void* handle, HandleKind kind);
    // Returns false when the handle was not live (already destroyed or never created).
    bool remove(const void* handle, HandleKind kind) noexcept;
    // Throws FT5_ERR_INVALID_HANDLE naming the argument and what is wrong with it.
    void check(const void* handle, HandleKind kind, const char* argument) const;

private:
    mutable std::mutex mutex_;
    std::unordered_map<const void*, HandleKind> live_;
};

// The handle structs' own types are opaque to C; these cast after validation.
template <typename T>
T* checked(T* handle, HandleKind kind, const char* argument) {
    HandleRegistry::instance().check(handle, kind, argument);
    return handle;
}

}  // namespace ft5::abi
