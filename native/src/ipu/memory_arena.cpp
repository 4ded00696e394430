#include "ipu/memory_arena.h"

#include "abi/error.h"

namespace ft5::ipu {

void MemoryArena::reserve(uint64_t bytes, const std::string& tensor_name) {
    std::lock_guard lock(mutex_);
    const uint64_t free_bytes = capacity_ - used_;
    if (bytes > free_bytes) {
        fail(FT5_ERR_OUT_OF_MEMORY, label_ + ": cannot allocate '" + tensor_name + "': requested " +
                                        std::to_string(bytes) + " bytes, free " + std::to_string(free_bytes) +
                                        " of " + std::to_string(capacity_) + " bytes");
    }
    used_ += bytes;
    ++live_;
    if (used_ > peak_) peak_ = used_;
}

void MemoryArena::release(uint64_t bytes) noexcept {
    std::lock_guard lock(mutex_);
    used_ = bytes > used_ ? 0 : used_ - bytes;
    if (live_ > 0) --live_;
}

void MemoryArena::reset_peak() noexcept {
    std::lock_guard lock(mutex_);
    peak_ = used_;
}

uint64_t MemoryArena::used() const noexcept {
    std::lock_guard lock(mutex_);
    return used_;
}

uint64_t MemoryArena::peak() const noexcept {
    std::lock_guard lock(mutex_);
    return peak_;
}

uint64_t MemoryArena::live_allocations() const noexcept {
    std::lock_guard lock(mutex_);
    return live_;
}

}  // namespace ft5::ipu
