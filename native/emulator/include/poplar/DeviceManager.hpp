#pragma once
// The IPUs this host can attach to, as the SDK's poplar::DeviceManager. The emulator offers a Pod16:
// ids 0-15 are single IPUs, 16-23 pairs, 24-27 groups of four, 28-29 groups of eight, 30 all sixteen.
#include <cstddef>
#include <vector>

#include <poplar/Device.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/TargetType.hpp>

namespace poplar {

class DeviceManager {
public:
  DeviceManager();
  static DeviceManager createDeviceManager();
  std::size_t getNumDevices() const;
  std::vector<Device> getDevices(const OptionFlags &opts = {}) const;
  std::vector<Device> getDevices(TargetType type, unsigned requiredNumIPUs, const OptionFlags &opts = {}) const;
  Device getDevice(unsigned deviceManagerId, const OptionFlags &opts = {}) const;
  std::vector<unsigned> getChildDeviceIds(unsigned parentId, unsigned numChildDeviceIpus = 1) const;
};

} // namespace poplar
