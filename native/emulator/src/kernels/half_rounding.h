// Rounding of float values to the nearest IEEE binary16 value (ties to even), kept as float:
// how a kernel models an operation whose result is HALF.
#pragma once

#include <cstddef>

namespace poplar_emulator {

inline float roundToHalf(float value) { return static_cast<float>(static_cast<_Float16>(value)); }

inline void roundToHalf(float *values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    values[i] = roundToHalf(values[i]);
}

} // namespace poplar_emulator
