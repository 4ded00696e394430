// The structs behind the opaque C handles. Each holds shared ownership of its device, so a tensor or a
// session keeps the device alive after ft5_device_destroy.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "ipu/arena_reservation.h"
#include "ipu/device.h"

namespace ft5::session {
class BuilderSession;
}

struct ft5_device {
    std::shared_ptr<ft5::ipu::Device> device;
};

// The bytes are reserved in the IPU's arena (declared first: reserved before the host copy is allocated, released
// after it), so a tensor shows in the memory report and fails with FT5_ERR_OUT_OF_MEMORY where a real IPU would.
struct ft5_tensor {
    std::shared_ptr<ft5::ipu::Device> device;
    ft5::ipu::ArenaReservation reservation;
    std::string name;
    ft5_dtype dtype = FT5_DTYPE_F32;
    std::vector<int64_t> shape;
    std::vector<std::byte> data;  // zeroed at creation
};

struct ft5_session {
    std::shared_ptr<ft5::ipu::Device> device;
    std::unique_ptr<ft5::session::BuilderSession> builder;
    ~ft5_session();  // defined where BuilderSession is complete
};
