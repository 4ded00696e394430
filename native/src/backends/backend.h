// One interface per backend, registered at build time (as ggml-backend does): the emulator always,
// Poplar only when CMake found the SDK.
#pragma once

#include <memory>

#include "ft5/ft5.h"
#include "ipu/device.h"

namespace ft5::backends {

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const noexcept = 0;
    virtual bool available() const noexcept = 0;
    // Opens a device with the given (already validated) topology.
    virtual std::shared_ptr<ipu::Device> open(const ipu::Topology& topology) const = 0;
};

// NULL when the backend is not compiled in.
const Backend* find_backend(ft5_backend kind) noexcept;

}  // namespace ft5::backends
