#pragma once
// A simulated IPU whose hardware numbers the caller may change, as the SDK's poplar::IPUModel.
// Defaults: Mk2 GC200 ("ipu2"): 1472 tiles, 624 KiB per tile, 1.33 GHz. "ipu21" (Bow): 1.85 GHz.
#include <limits>
#include <string>

#include <poplar/Device.hpp>
#include <poplar/OptionFlags.hpp>

namespace poplar {

struct IPUModel {
  explicit IPUModel(const char *ipuVersion = "ipu2");
  Device createDevice(OptionFlags opts = {}, bool accurateHalf = false,
                      unsigned deviceManagerId = std::numeric_limits<unsigned>::max()) const;

  std::string IPUVersion;
  unsigned numIPUs = 1;
  unsigned tilesPerSuperTile = 4;
  unsigned tilesPerIPU = 1472;
  unsigned numWorkerContexts = 6;
  unsigned memoryBytesPerTile = 624 * 1024;
  double tileClockFrequency = 1.33e9;
  unsigned exchangeBytesPerCycle = 4;
};

} // namespace poplar
