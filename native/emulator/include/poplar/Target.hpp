#pragma once
// The hardware a graph is built for, as the SDK's poplar::Target.
#include <cstddef>
#include <string>

#include <poplar/OptionFlags.hpp>
#include <poplar/StringRef.hpp>
#include <poplar/TargetType.hpp>
#include <poplar/Type.hpp>

namespace poplar_emulator {
struct Access;
}

namespace poplar {

class Target {
public:
  Target() = default;
  static Target createIPUTarget(StringRef system, const OptionFlags &opts = {});
  static Target createIPUTarget(unsigned numIPUs, StringRef system, const OptionFlags &opts = {});
  static Target createIPUTarget(unsigned numIPUs, unsigned tilesPerIPU, StringRef system,
                                const OptionFlags &opts = {});
  static Target createCPUTarget(bool accurateHalf = false, unsigned numIPUs = 1);

  TargetType getTargetType() const { return type_; }
  unsigned getNumIPUs() const { return numIPUs_; }
  unsigned getTilesPerIPU() const { return tilesPerIPU_; }
  unsigned getNumWorkerContexts() const { return numWorkerContexts_; }
  unsigned getBytesPerTile() const { return bytesPerTile_; }
  unsigned getNumTiles() const { return numIPUs_ * tilesPerIPU_; }
  unsigned getTypeSize(const Type &type) const;
  unsigned getVectorWidth(const Type &type) const;

private:
  friend struct poplar_emulator::Access;
  TargetType type_ = TargetType::IPU;
  std::string arch_ = "ipu2";
  unsigned numIPUs_ = 1;
  unsigned tilesPerIPU_ = 1472;
  unsigned tilesPerSuperTile_ = 4;
  unsigned numWorkerContexts_ = 6;
  unsigned bytesPerTile_ = 624 * 1024;
  double tileClockFrequency_ = 1.33e9;
  unsigned exchangeBytesPerCycle_ = 4;
  double ipuLinkBytesPerSecond_ = 320e9;
};

// The host's conversions to and from the device's half (IEEE binary16, rounding to nearest even; past +-65504 is
// infinity): a HALF tensor's host buffer (Engine::writeTensor, readTensor, remote buffers) holds these.
void copyFloatToDeviceHalf(const Target &target, const float *src, void *dst, std::size_t numElements);
void copyDeviceHalfToFloat(const Target &target, const void *src, float *dst, std::size_t numElements);

} // namespace poplar
