// Capacity accounting for one memory of one IPU (its tiles, or its streaming memory).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace ft5::ipu {

class MemoryArena {
public:
    MemoryArena(std::string label, uint64_t capacity) : label_(std::move(label)), capacity_(capacity) {}

    // Reserves bytes or throws ft5::Error(FT5_ERR_OUT_OF_MEMORY) naming the arena, the tensor,
    // the requested and the free bytes. Nothing changes on failure.
    void reserve(uint64_t bytes, const std::string& tensor_name);
    void release(uint64_t bytes) noexcept;
    void reset_peak() noexcept;

    const std::string& label() const noexcept { return label_; }
    uint64_t capacity() const noexcept { return capacity_; }
    uint64_t used() const noexcept;
    uint64_t peak() const noexcept;
    uint64_t live_allocations() const noexcept;

private:
    std::string label_;
    uint64_t capacity_;
    mutable std::mutex mutex_;
    uint64_t used_ = 0;
    uint64_t peak_ = 0;
    uint64_t live_ = 0;
};

}  // namespace ft5::ipu
