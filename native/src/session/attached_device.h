// The poplar::Device a session's engine runs on, for the backend its ft5 device was opened with.
#pragma once

#include <cstddef>

#include <poplar/Device.hpp>

#include "ipu/device.h"

namespace ft5::session {

// Attached IPUs of the topology's backend, `ipus` of them (replicas × IPUs per replica): Poplar's IPUModel for the
// emulator and IPU_MODEL backends, with the topology's tiles and tile memory (in the emulator build the IPUModel is
// the emulated one), a free device of that many IPUs from DeviceManager for POPLAR (the hardware's tiles are what
// they are). Fails with FT5_ERR_BACKEND_UNAVAILABLE when no such device can be attached.
poplar::Device attached_device(const ipu::Topology& topology, std::size_t ipus);

}  // namespace ft5::session
