// Error capture at the C ABI: one exception type inside the library, one thread-local message outside.
#pragma once

#include <string>
#include <utility>

#include "ft5/ft5.h"

namespace ft5 {

// Thrown anywhere inside the library; turned into a status and ft5_last_error() by FT5_API_END.
class Error {
public:
    Error(ft5_status status, std::string message) : status_(status), message_(std::move(message)) {}
    ft5_status status() const noexcept { return status_; }
    const std::string& message() const noexcept { return message_; }

private:
    ft5_status status_;
    std::string message_;
};

[[noreturn]] inline void fail(ft5_status status, std::string message) { throw Error(status, std::move(message)); }
[[noreturn]] inline void invalid_argument(std::string message) { fail(FT5_ERR_INVALID_ARGUMENT, std::move(message)); }

namespace abi {
void clear_last_error() noexcept;
void set_last_error(const char* message) noexcept;
ft5_status translate_current_exception(const char* function) noexcept;
}  // namespace abi
}  // namespace ft5

// Every exported function body sits between these two: nothing thrown escapes, every failure is a status.
#define FT5_API_BEGIN \
    ::ft5::abi::clear_last_error(); \
    try {
#define FT5_API_END \
    } catch (...) { \
        return ::ft5::abi::translate_current_exception(__func__); \
    } \
    return FT5_OK;
