// Hardware numbers of the IPUs the emulator models. Every number a test relies on can be overridden
// through ft5_device_desc; these are only the defaults.
#pragma once

#include <cstdint>

namespace ft5::ipu {

struct IpuArch {
    // IPU Mk2 GC200 datasheet: 1,472 tiles, 900 MB In-Processor-Memory (~624 KiB per tile).
    // Poplar's Target::getBytesPerTile() reports 638,976 (624 KiB) on GC200.
    static constexpr uint32_t kMk2Tiles = 1472;
    static constexpr uint64_t kMk2BytesPerTile = 638976;
    // GC200 clock ~1.33 GHz (250 TFLOPS fp16 / 1472 tiles / 1.33 GHz = 128 fp16 FLOP per tile-cycle).
    static constexpr double kMk2ClockHz = 1.33e9;
    // Bow IPU: same tiles and memory at 1.85 GHz (350 TFLOPS fp16).
    static constexpr double kBowClockHz = 1.85e9;
    // IPU-M2000: 4 IPUs sharing 128 GB streaming memory (DDR4 DIMMs; up to 448 GB) -> 32 GiB per IPU default.
    static constexpr uint64_t kStreamingBytesPerIpu = 32ull << 30;
};

}  // namespace ft5::ipu
