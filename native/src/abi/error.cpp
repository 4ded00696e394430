#include "abi/error.h"

#include <exception>
#include <new>
#include <string>

namespace ft5::abi {
namespace {
// Owned by the library, valid until the next ft5 call on this thread (the header's promise).
thread_local std::string t_last_error;
}  // namespace

void clear_last_error() noexcept { t_last_error.clear(); }

void set_last_error(const char* message) noexcept {
    try {
        t_last_error = message;
    } catch (...) {
        t_last_error.clear();  // out of memory while reporting: an empty message beats a crash
    }
}

ft5_status translate_current_exception(const char* function) noexcept {
    try {
        throw;
    } catch (const Error& e) {
        set_last_error(e.message().c_str());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_last_error((std::string(function) + ": host out of memory").c_str());
        return FT5_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error((std::string(function) + ": internal error: " + e.what()).c_str());
        return FT5_ERR_INTERNAL;
    } catch (...) {
        set_last_error((std::string(function) + ": internal error: unknown exception").c_str());
        return FT5_ERR_INTERNAL;
    }
}
}  // namespace ft5::abi

extern "C" const char* ft5_last_error(void) { return ft5::abi::t_last_error.c_str(); }
