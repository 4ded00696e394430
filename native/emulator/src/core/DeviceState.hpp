#pragma once
#include <poplar/Target.hpp>

namespace poplar_emulator {

class EngineImpl;

struct DeviceState {
  poplar::Target target;
  unsigned id = 0;
  mutable bool attached = false;
  mutable EngineImpl *loadedEngine = nullptr; // a device runs one engine at a time
  DeviceState() = default;
  DeviceState(const DeviceState &) = delete;
  DeviceState &operator=(const DeviceState &) = delete;
  ~DeviceState(); // tells the loaded engine its device is gone
};

} // namespace poplar_emulator
