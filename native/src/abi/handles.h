// The structs behind the opaque C handles. Each holds shared ownership of its device, so a tensor or a
// session keeps the device alive after ft5_device_destroy.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "ipu/device.h"
#include "ipu/device_buffer.h"

namespace ft5::model {
class Session;
}
namespace ft5::session {
class BuilderSession;
}

struct ft5_device {
    std::shared_ptr<ft5::ipu::Device> device;
};

struct ft5_tensor {
    std::shared_ptr<ft5::ipu::Device> device;
    ft5_dtype dtype = FT5_DTYPE_F32;
    std::vector<int64_t> shape;
    ft5::ipu::DeviceBuffer buffer;
};

// Exactly one of the two: the builder's programs for plans on one IPU, the eager model for the others.
struct ft5_session {
    std::shared_ptr<ft5::ipu::Device> device;
    std::unique_ptr<ft5::model::Session> session;
    std::unique_ptr<ft5::session::BuilderSession> builder;
    ~ft5_session();  // defined where both sessions are complete
};
