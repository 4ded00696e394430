#include "ipu/device_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace ft5::ipu {

void DeviceBuffer::FreeDeleter::operator()(std::byte* p) const noexcept { std::free(p); }

DeviceBuffer::DeviceBuffer(std::shared_ptr<Device> device, uint32_t ipu, ft5_memory_location location,
                           uint64_t bytes, std::string name)
    : device_(std::move(device)), ipu_(ipu), location_(location), bytes_(bytes), name_(std::move(name)) {
    device_->arena(ipu_, location_).reserve(bytes_, name_);
    const size_t rounded = size_t((bytes_ + 63) / 64 * 64);
    void* p = rounded == 0 ? nullptr : std::aligned_alloc(64, rounded);
    if (rounded != 0 && p == nullptr) {
        device_->arena(ipu_, location_).release(bytes_);
        throw std::bad_alloc();
    }
    if (p != nullptr) std::memset(p, 0, rounded);
    data_.reset(static_cast<std::byte*>(p));
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : device_(std::move(other.device_)),
      ipu_(other.ipu_),
      location_(other.location_),
      bytes_(other.bytes_),
      name_(std::move(other.name_)),
      data_(std::move(other.data_)),
      mirrors_(std::move(other.mirrors_)) {
    other.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
        release();
        device_ = std::move(other.device_);
        ipu_ = other.ipu_;
        location_ = other.location_;
        bytes_ = other.bytes_;
        name_ = std::move(other.name_);
        data_ = std::move(other.data_);
        mirrors_ = std::move(other.mirrors_);
        other.bytes_ = 0;
    }
    return *this;
}

void DeviceBuffer::mirror_on_next(uint32_t ipus) {
    mirrors_.reserve(mirrors_.size() + ipus);
    for (uint32_t i = 1; i <= ipus; ++i) mirrors_.emplace_back(device_, ipu_ + i, location_, bytes_, name_);
}

void DeviceBuffer::release() noexcept {
    mirrors_.clear();
    if (device_) {
        try {
            device_->arena(ipu_, location_).release(bytes_);
        } catch (...) {
            // arena() only throws for an out-of-range IPU, which the constructor already ruled out.
        }
        device_.reset();
    }
    data_.reset();
    bytes_ = 0;
}

}  // namespace ft5::ipu
