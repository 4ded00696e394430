#include "ipu/arena_reservation.h"

namespace ft5::ipu {

ArenaReservation::ArenaReservation(std::shared_ptr<Device> device, uint32_t ipu, ft5_memory_location location,
                                   uint64_t bytes, const std::string& name)
    : device_(std::move(device)), ipu_(ipu), location_(location), bytes_(bytes) {
    device_->arena(ipu_, location_).reserve(bytes_, name);
}

ArenaReservation::~ArenaReservation() { release(); }

ArenaReservation::ArenaReservation(ArenaReservation&& other) noexcept
    : device_(std::move(other.device_)), ipu_(other.ipu_), location_(other.location_), bytes_(other.bytes_) {
    other.bytes_ = 0;
}

ArenaReservation& ArenaReservation::operator=(ArenaReservation&& other) noexcept {
    if (this != &other) {
        release();
        device_ = std::move(other.device_);
        ipu_ = other.ipu_;
        location_ = other.location_;
        bytes_ = other.bytes_;
        other.bytes_ = 0;
    }
    return *this;
}

void ArenaReservation::release() noexcept {
    if (device_) {
        try {
            device_->arena(ipu_, location_).release(bytes_);
        } catch (...) {
            // arena() only throws for an out-of-range IPU, which the constructor already ruled out.
        }
        device_.reset();
    }
    bytes_ = 0;
}

}  // namespace ft5::ipu
