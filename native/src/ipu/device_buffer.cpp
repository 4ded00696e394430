#include "ipu/device_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ft5::ipu {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// Zeroed host memory for a buffer of `bytes` (a multiple of 64). Buffers of a huge page or more sit on a 2 MiB
// boundary with transparent huge pages requested for their whole 2 MiB pages (Linux): an XL model's 11 GB is then
// faulted in 2 MiB at a time instead of 4 KiB, which in a virtual machine was most of a conversion's time (about
// 57 of 77 s). The tail past the last whole huge page keeps ordinary pages, so no memory is wasted on it.
void* allocate_zeroed(size_t bytes) {
    if (bytes == 0) return nullptr;
    const bool huge = bytes >= kHugePage;
    const size_t alignment = huge ? kHugePage : 64;
    void* p = std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
    if (p == nullptr) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) (void)madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // a hint: failure changes nothing
#endif
    std::memset(p, 0, bytes);
    return p;
}

}  // namespace

void DeviceBuffer::FreeDeleter::operator()(std::byte* p) const noexcept { std::free(p); }

DeviceBuffer::DeviceBuffer(std::shared_ptr<Device> device, uint32_t ipu, ft5_memory_location location,
                           uint64_t bytes, std::string name)
    : reservation_(std::move(device), ipu, location, bytes, name), name_(std::move(name)) {
    const size_t rounded = size_t((bytes + 63) / 64 * 64);
    void* p = allocate_zeroed(rounded);
    if (rounded != 0 && p == nullptr) throw std::bad_alloc();  // the reservation is released as the member unwinds
    data_.reset(static_cast<std::byte*>(p));
}

void DeviceBuffer::mirror_on(uint32_t ipus, uint32_t stride) {
    mirrors_.reserve(mirrors_.size() + ipus);
    for (uint32_t i = 1; i <= ipus; ++i)
        mirrors_.emplace_back(reservation_.device(), ipu() + i * stride, location(), bytes(), name_);
}

}  // namespace ft5::ipu
