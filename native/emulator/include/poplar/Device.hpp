#pragma once
// A set of IPUs a program is loaded onto, as the SDK's poplar::Device.
#include <memory>

#include <poplar/Target.hpp>

namespace poplar_emulator {
struct Access;
struct DeviceState;
} // namespace poplar_emulator

namespace poplar {

class Device {
public:
  Device();
  ~Device();
  Device(Device &&) noexcept;
  Device &operator=(Device &&) noexcept;
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  unsigned getId() const;
  const Target &getTarget() const;
  bool attach() const;
  bool isAttached() const;
  void detach() const;
  static Device createCPUDevice(unsigned numIPUs = 1);

private:
  friend struct poplar_emulator::Access;
  std::unique_ptr<poplar_emulator::DeviceState> state_;
};

} // namespace poplar
