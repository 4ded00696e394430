#include "abi/handle_registry.h"

namespace ft5::abi {

const char* handle_kind_name(HandleKind kind) noexcept {
    switch (kind) {
        case HandleKind::Device: return "ft5_device";
        case HandleKind::Tensor: return "ft5_tensor";
        case HandleKind::Session: return "ft5_session";
    }
    return "handle";
}

HandleRegistry& HandleRegistry::instance() {
    // Process-wide by nature: handles are process-wide. Leaked on purpose so that handles destroyed
    // from static destructors of the host still find it.
    static auto* registry = new HandleRegistry();  // NOLINT: intentional immortal singleton
    return *registry;
}

void HandleRegistry::add(const void* handle, HandleKind kind) {
    std::lock_guard lock(mutex_);
    live_[handle] = kind;
}

bool HandleRegistry::remove(const void* handle, HandleKind kind) noexcept {
    std::lock_guard lock(mutex_);
    auto it = live_.find(handle);
    if (it == live_.end() || it->second != kind) return false;
    live_.erase(it);
    return true;
}

void HandleRegistry::check(const void* handle, HandleKind kind, const char* argument) const {
    if (handle == nullptr) {
        fail(FT5_ERR_INVALID_HANDLE, std::string(argument) + " is NULL; expected a live " + handle_kind_name(kind));
    }
    std::lock_guard lock(mutex_);
    auto it = live_.find(handle);
    if (it == live_.end()) {
        fail(FT5_ERR_INVALID_HANDLE,
             std::string(argument) + " is not a live " + handle_kind_name(kind) + " (destroyed or never created)");
    }
    if (it->second != kind) {
        fail(FT5_ERR_INVALID_HANDLE, std::string(argument) + " is a " + handle_kind_name(it->second) + ", expected a " +
                                         handle_kind_name(kind));
    }
}

}  // namespace ft5::abi
