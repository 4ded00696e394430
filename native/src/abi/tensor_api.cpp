// ft5_tensor_*: named allocations on one IPU with capacity enforcement.
#include <cstring>
#include <string>

#include "abi/descriptor.h"
#include "abi/enum_value.h"
#include "abi/error.h"
#include "abi/handle_registry.h"
#include "abi/handles.h"

using ft5::abi::HandleKind;
using ft5::abi::checked;

namespace {

uint64_t dtype_size(const ft5_dtype& dtype) {
    const int32_t raw = ft5::abi::enum_value(dtype);
    switch (raw) {
        case FT5_DTYPE_F32: return 4;
        case FT5_DTYPE_F16: return 2;
        case FT5_DTYPE_BF16: return 2;
        case FT5_DTYPE_I32: return 4;
        default: break;
    }
    ft5::invalid_argument("desc->dtype " + std::to_string(raw) + " is not a known dtype");
}

void check_nbytes(const ft5_tensor* t, size_t nbytes, const char* what) {
    if (nbytes != t->reservation.bytes()) {
        ft5::invalid_argument(std::string(what) + " of tensor '" + t->name + "': nbytes is " + std::to_string(nbytes) +
                              ", expected " + std::to_string(t->reservation.bytes()));
    }
}

}  // namespace

extern "C" {

ft5_status ft5_tensor_create(ft5_device* device, const ft5_tensor_desc* desc, ft5_tensor** out_tensor) {
    FT5_API_BEGIN
    ft5::abi::require_out(out_tensor, "out_tensor");
    *out_tensor = nullptr;
    auto* dev = checked(device, HandleKind::Device, "device");
    const auto d = ft5::abi::read_desc(desc, ft5_tensor_desc_init, "desc");
    if (d.name == nullptr || d.name[0] == '\0') ft5::invalid_argument("desc->name is NULL or empty");
    const std::string name(d.name, strnlen(d.name, 4096));
    if (d.rank > FT5_MAX_RANK) {
        ft5::invalid_argument("tensor '" + name + "': rank " + std::to_string(d.rank) + " exceeds FT5_MAX_RANK (" +
                              std::to_string(FT5_MAX_RANK) + ")");
    }
    uint64_t bytes = dtype_size(d.dtype);
    std::vector<int64_t> shape(d.shape, d.shape + d.rank);
    for (uint32_t i = 0; i < d.rank; ++i) {
        if (d.shape[i] < 0) {
            ft5::invalid_argument("tensor '" + name + "': shape[" + std::to_string(i) + "] is " +
                                  std::to_string(d.shape[i]) + "; dimensions must be >= 0");
        }
        const auto dim = uint64_t(d.shape[i]);
        if (dim != 0 && bytes > (uint64_t(1) << 62) / dim) {
            ft5::invalid_argument("tensor '" + name + "': size overflows 2^62 bytes");
        }
        bytes *= dim;
    }
    const int32_t location = ft5::abi::enum_value(d.location);
    if (location != FT5_MEMORY_ON_CHIP && location != FT5_MEMORY_STREAMING) {
        ft5::invalid_argument("tensor '" + name + "': unknown memory location " + std::to_string(location));
    }
    auto handle = std::make_unique<ft5_tensor>();
    handle->device = dev->device;
    handle->dtype = d.dtype;
    handle->shape = std::move(shape);
    handle->reservation = ft5::ipu::ArenaReservation(dev->device, d.ipu, d.location, bytes, name);
    handle->data.resize(size_t(bytes));
    handle->name = name;
    ft5::abi::HandleRegistry::instance().add(handle.get(), HandleKind::Tensor);
    *out_tensor = handle.release();
    FT5_API_END
}

void ft5_tensor_destroy(ft5_tensor* tensor) {
    ft5::abi::clear_last_error();
    if (tensor == nullptr) return;
    if (!ft5::abi::HandleRegistry::instance().remove(tensor, HandleKind::Tensor)) return;
    delete tensor;  // NOLINT: pairs with make_unique().release() in ft5_tensor_create
}

ft5_status ft5_tensor_byte_size(const ft5_tensor* tensor, uint64_t* out_bytes) {
    FT5_API_BEGIN
    const auto* t = checked(tensor, HandleKind::Tensor, "tensor");
    *ft5::abi::require_out(out_bytes, "out_bytes") = t->reservation.bytes();
    FT5_API_END
}

ft5_status ft5_tensor_write(ft5_tensor* tensor, const void* data, size_t nbytes) {
    FT5_API_BEGIN
    auto* t = checked(tensor, HandleKind::Tensor, "tensor");
    check_nbytes(t, nbytes, "write");
    if (nbytes == 0) return FT5_OK;
    if (data == nullptr) ft5::invalid_argument("write of tensor '" + t->name + "': data is NULL");
    std::memcpy(t->data.data(), data, nbytes);
    if (t->reservation.location() == FT5_MEMORY_STREAMING) t->device->traffic().streaming_bytes += nbytes;
    FT5_API_END
}

ft5_status ft5_tensor_read(const ft5_tensor* tensor, void* data, size_t nbytes) {
    FT5_API_BEGIN
    const auto* t = checked(tensor, HandleKind::Tensor, "tensor");
    check_nbytes(t, nbytes, "read");
    if (nbytes == 0) return FT5_OK;
    if (data == nullptr) ft5::invalid_argument("read of tensor '" + t->name + "': data is NULL");
    std::memcpy(data, t->data.data(), nbytes);
    FT5_API_END
}

}  // extern "C"
