#pragma once
#include <poplar/Target.hpp>

namespace poplar_emulator {

struct DeviceState {
  poplar::Target target;
  unsigned id = 0;
  mutable bool attached = false;
};

} // namespace poplar_emulator
