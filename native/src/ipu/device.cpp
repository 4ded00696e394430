#include "ipu/device.h"

#include <cstring>
#include <thread>

#include "abi/error.h"

namespace ft5::ipu {

unsigned Topology::threads() const noexcept {
    if (num_threads != 0) return num_threads;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : hw;
}

Device::Device(const Topology& topology) : topology_(topology) {
    for (uint32_t i = 0; i < topology_.num_ipus; ++i) {
        on_chip_.push_back(std::make_unique<MemoryArena>("IPU " + std::to_string(i) + " on-chip memory",
                                                         topology_.on_chip_bytes_per_ipu()));
        streaming_.push_back(std::make_unique<MemoryArena>("IPU " + std::to_string(i) + " streaming memory",
                                                           topology_.streaming_bytes_per_ipu));
    }
}

void Device::check_ipu(uint32_t ipu) const {
    if (ipu >= topology_.num_ipus) {
        invalid_argument("ipu " + std::to_string(ipu) + " is out of range: the device has " +
                         std::to_string(topology_.num_ipus) + " IPU(s)");
    }
}

MemoryArena& Device::arena(uint32_t ipu, ft5_memory_location location) {
    check_ipu(ipu);
    int32_t raw;
    static_assert(sizeof(raw) == sizeof(location));
    std::memcpy(&raw, &location, sizeof raw);  // validated as an integer: see abi/enum_value.h
    if (raw == FT5_MEMORY_STREAMING) return *streaming_[ipu];
    if (raw != FT5_MEMORY_ON_CHIP) invalid_argument("unknown memory location " + std::to_string(raw));
    return *on_chip_[ipu];
}

const MemoryArena& Device::arena(uint32_t ipu, ft5_memory_location location) const {
    return const_cast<Device*>(this)->arena(ipu, location);
}

void Device::reset_peaks() noexcept {
    for (auto& a : on_chip_) a->reset_peak();
    for (auto& a : streaming_) a->reset_peak();
}

}  // namespace ft5::ipu
