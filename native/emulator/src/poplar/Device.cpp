#include <string>

#include <poplar/Device.hpp>
#include <poplar/DeviceManager.hpp>
#include <poplar/IPUModel.hpp>
#include <poplar/Target.hpp>
#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/DeviceState.hpp"
#include "core/Half.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {

DeviceState &Access::state(const poplar::Device &d) {
  if (!d.state_) throw poplar::poplar_error("poplar::Device: the device is empty (moved from or default-constructed)");
  return *d.state_;
}

poplar::Device Access::makeDevice(std::unique_ptr<DeviceState> state) {
  poplar::Device d;
  d.state_ = std::move(state);
  return d;
}

namespace {
// Mk2 GC200 ("ipu2") and Bow ("ipu21"): same tiles and memory, Bow clocks at 1.85 GHz.
poplar::Target ipuTarget(poplar::TargetType type, const std::string &arch, unsigned numIPUs, unsigned tilesPerIPU) {
  double clock;
  if (arch == "ipu2") {
    clock = 1.33e9;
  } else if (arch == "ipu21") {
    clock = 1.85e9;
  } else {
    throw poplar::poplar_error("unknown IPU architecture '" + arch + "': expected \"ipu2\" or \"ipu21\"");
  }
  if (numIPUs == 0 || tilesPerIPU == 0) throw poplar::poplar_error("an IPU target needs at least one IPU and one tile");
  return Access::makeTarget(type, arch, numIPUs, tilesPerIPU, 624 * 1024, clock, 4, 4, 6);
}
constexpr unsigned kPodIPUs = 16;
struct DeviceGroup {
  unsigned firstIpu, numIpus;
};
// Ids as a Pod16 lists them: singles, then pairs, fours, eights and all sixteen.
DeviceGroup deviceGroup(unsigned id) {
  unsigned base = 0;
  for (unsigned size = 1; size <= kPodIPUs; size *= 2) {
    unsigned count = kPodIPUs / size;
    if (id < base + count) return {(id - base) * size, size};
    base += count;
  }
  throw poplar::poplar_error("poplar::DeviceManager: no device with id " + std::to_string(id) + " (the emulated Pod16 has ids 0-30)");
}
unsigned numDeviceIds() {
  unsigned n = 0;
  for (unsigned size = 1; size <= kPodIPUs; size *= 2) n += kPodIPUs / size;
  return n;
}
} // namespace
} // namespace poplar_emulator

namespace poplar {

using poplar_emulator::Access;
using poplar_emulator::DeviceState;

Target Target::createIPUTarget(StringRef system, const OptionFlags &) {
  return poplar_emulator::ipuTarget(TargetType::IPU, system.cloneAsString(), 1, 1472);
}
Target Target::createIPUTarget(unsigned numIPUs, StringRef system, const OptionFlags &) {
  return poplar_emulator::ipuTarget(TargetType::IPU, system.cloneAsString(), numIPUs, 1472);
}
Target Target::createIPUTarget(unsigned numIPUs, unsigned tilesPerIPU, StringRef system, const OptionFlags &) {
  return poplar_emulator::ipuTarget(TargetType::IPU, system.cloneAsString(), numIPUs, tilesPerIPU);
}
Target Target::createCPUTarget(bool, unsigned numIPUs) {
  // The SDK's CPU target has one tile per IPU.
  Target t = poplar_emulator::ipuTarget(TargetType::CPU, "ipu2", numIPUs, 1);
  return t;
}
unsigned Target::getTypeSize(const Type &type) const {
  return static_cast<unsigned>(poplar_emulator::typeInfo(type, "Target::getTypeSize").size);
}
unsigned Target::getVectorWidth(const Type &type) const {
  // Elements of the type in one 64-bit vector register.
  return static_cast<unsigned>(8 / poplar_emulator::typeInfo(type, "Target::getVectorWidth").size);
}

void copyFloatToDeviceHalf(const Target &, const float *src, void *dst, std::size_t numElements) {
  auto *out = static_cast<std::uint16_t *>(dst);
  for (std::size_t i = 0; i < numElements; ++i) out[i] = poplar_emulator::floatToHalfRne(src[i]);
}
void copyDeviceHalfToFloat(const Target &, const void *src, float *dst, std::size_t numElements) {
  const auto *in = static_cast<const std::uint16_t *>(src);
  for (std::size_t i = 0; i < numElements; ++i) dst[i] = poplar_emulator::halfToFloat(in[i]);
}

Device::Device() = default;
Device::~Device() = default;
Device::Device(Device &&) noexcept = default;
Device &Device::operator=(Device &&) noexcept = default;
unsigned Device::getId() const { return Access::state(*this).id; }
const Target &Device::getTarget() const { return Access::state(*this).target; }
bool Device::attach() const {
  Access::state(*this).attached = true;
  return true;
}
bool Device::isAttached() const { return state_ && state_->attached; }
void Device::detach() const { Access::state(*this).attached = false; }
Device Device::createCPUDevice(unsigned numIPUs) {
  auto state = std::make_unique<DeviceState>();
  state->target = Target::createCPUTarget(false, numIPUs);
  return Access::makeDevice(std::move(state));
}

IPUModel::IPUModel(const char *ipuVersion) : IPUVersion(ipuVersion ? ipuVersion : "ipu2") {
  Target t = poplar_emulator::ipuTarget(TargetType::IPU_MODEL, IPUVersion, 1, 1472);
  tileClockFrequency = Access::clockHz(t);
}
Device IPUModel::createDevice(OptionFlags, bool, unsigned deviceManagerId) const {
  if (numIPUs == 0 || tilesPerIPU == 0 || memoryBytesPerTile == 0 || tileClockFrequency <= 0 ||
      exchangeBytesPerCycle == 0)
    throw poplar_error("poplar::IPUModel: numIPUs, tilesPerIPU, memoryBytesPerTile, tileClockFrequency and "
                       "exchangeBytesPerCycle must all be positive");
  auto state = std::make_unique<DeviceState>();
  state->target = Access::makeTarget(TargetType::IPU_MODEL, IPUVersion, numIPUs, tilesPerIPU, memoryBytesPerTile,
                                     tileClockFrequency, exchangeBytesPerCycle, tilesPerSuperTile, numWorkerContexts);
  state->id = deviceManagerId == std::numeric_limits<unsigned>::max() ? 0 : deviceManagerId;
  return Access::makeDevice(std::move(state));
}

DeviceManager::DeviceManager() = default;
DeviceManager DeviceManager::createDeviceManager() { return DeviceManager(); }
std::size_t DeviceManager::getNumDevices() const { return poplar_emulator::numDeviceIds(); }
Device DeviceManager::getDevice(unsigned id, const OptionFlags &) const {
  poplar_emulator::DeviceGroup group = poplar_emulator::deviceGroup(id);
  auto state = std::make_unique<DeviceState>();
  state->target = poplar_emulator::ipuTarget(TargetType::IPU, "ipu2", group.numIpus, 1472);
  state->id = id;
  return Access::makeDevice(std::move(state));
}
std::vector<Device> DeviceManager::getDevices(const OptionFlags &opts) const {
  std::vector<Device> out;
  for (unsigned id = 0; id < poplar_emulator::numDeviceIds(); ++id) out.push_back(getDevice(id, opts));
  return out;
}
std::vector<Device> DeviceManager::getDevices(TargetType type, unsigned requiredNumIPUs, const OptionFlags &opts) const {
  std::vector<Device> out;
  if (type != TargetType::IPU) return out;
  for (unsigned id = 0; id < poplar_emulator::numDeviceIds(); ++id)
    if (poplar_emulator::deviceGroup(id).numIpus == requiredNumIPUs) out.push_back(getDevice(id, opts));
  return out;
}
std::vector<unsigned> DeviceManager::getChildDeviceIds(unsigned parentId, unsigned numChildDeviceIpus) const {
  poplar_emulator::DeviceGroup parent = poplar_emulator::deviceGroup(parentId);
  std::vector<unsigned> out;
  for (unsigned id = 0; id < poplar_emulator::numDeviceIds(); ++id) {
    poplar_emulator::DeviceGroup g = poplar_emulator::deviceGroup(id);
    if (g.numIpus == numChildDeviceIpus && g.firstIpu >= parent.firstIpu &&
        g.firstIpu + g.numIpus <= parent.firstIpu + parent.numIpus)
      out.push_back(id);
  }
  return out;
}

} // namespace poplar
