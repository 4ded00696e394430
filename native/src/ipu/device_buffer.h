// Host storage for a tensor that lives on one IPU: the bytes are reserved in that IPU's arena (an
// ArenaReservation) for as long as the buffer lives, so every allocation the model makes shows in the memory
// report and can fail with FT5_ERR_OUT_OF_MEMORY exactly where a real IPU would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipu/arena_reservation.h"
#include "ipu/device.h"

namespace ft5::ipu {

class DeviceBuffer {
public:
    DeviceBuffer() = default;
    // Reserves `bytes` in the arena (throws on overflow), then allocates zeroed, 64-byte aligned host memory.
    DeviceBuffer(std::shared_ptr<Device> device, uint32_t ipu, ft5_memory_location location, uint64_t bytes,
                 std::string name);
    // Moves leave an empty buffer (0 bytes, nothing reserved).
    DeviceBuffer(DeviceBuffer&& other) noexcept = default;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    uint64_t bytes() const noexcept { return reservation_.bytes(); }
    uint32_t ipu() const noexcept { return reservation_.ipu(); }
    ft5_memory_location location() const noexcept { return reservation_.location(); }
    const std::string& name() const noexcept { return name_; }
    std::byte* data() noexcept { return data_.get(); }
    const std::byte* data() const noexcept { return data_.get(); }
    // Also reserves the same bytes on `ipus` more IPUs (ipu + stride, ipu + 2 stride, ...): the other
    // tensor-parallel ranks' copies of a replicated tensor, held for as long as this buffer.
    void mirror_on(uint32_t ipus, uint32_t stride);

    template <typename T>
    std::span<T> as() noexcept { return {reinterpret_cast<T*>(data_.get()), size_t(bytes() / sizeof(T))}; }
    template <typename T>
    std::span<const T> as() const noexcept {
        return {reinterpret_cast<const T*>(data_.get()), size_t(bytes() / sizeof(T))};
    }

private:
    struct FreeDeleter {
        void operator()(std::byte* p) const noexcept;
    };

    // Declared first: the arena bytes are reserved before the host memory is allocated and released after it.
    ArenaReservation reservation_;
    std::string name_;
    std::unique_ptr<std::byte, FreeDeleter> data_;
    std::vector<ArenaReservation> mirrors_;
};

}  // namespace ft5::ipu
