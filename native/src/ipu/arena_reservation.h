// Bytes held in one IPU's arena for as long as the reservation lives, without host storage of their own: what
// each IPU would hold of a session's state and activations (the emulated engine keeps the data), and of a tensor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ipu/device.h"

namespace ft5::ipu {

class ArenaReservation {
public:
    ArenaReservation() = default;
    // Reserves `bytes` (throws FT5_ERR_OUT_OF_MEMORY like any allocation); released on destruction.
    ArenaReservation(std::shared_ptr<Device> device, uint32_t ipu, ft5_memory_location location, uint64_t bytes,
                     const std::string& name);
    ~ArenaReservation();
    ArenaReservation(ArenaReservation&& other) noexcept;
    ArenaReservation& operator=(ArenaReservation&& other) noexcept;
    ArenaReservation(const ArenaReservation&) = delete;
    ArenaReservation& operator=(const ArenaReservation&) = delete;

    uint64_t bytes() const noexcept { return bytes_; }
    uint32_t ipu() const noexcept { return ipu_; }
    ft5_memory_location location() const noexcept { return location_; }
    // Null once moved from.
    const std::shared_ptr<Device>& device() const noexcept { return device_; }

private:
    void release() noexcept;

    std::shared_ptr<Device> device_;
    uint32_t ipu_ = 0;
    ft5_memory_location location_ = FT5_MEMORY_ON_CHIP;
    uint64_t bytes_ = 0;
};

}  // namespace ft5::ipu
