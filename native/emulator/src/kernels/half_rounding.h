// Rounding of float values to the nearest IEEE binary16 value (ties to even), kept as float: how a
// kernel models an operation whose result is HALF. Done on the float's bits rather than through a
// conversion call, so loops over arrays stay cheap.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace poplar_emulator {

inline float roundToHalf(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u)  // infinity or NaN: unchanged
    return value;
  if (magnitude < 0x38800000u) {
    // Below 2^-14 halves are subnormal, multiples of 2^-24: adding 0.5 (where floats are 2^-24
    // apart) rounds the magnitude to one, ties to even.
    const float rounded = (std::fabs(value) + 0.5f) - 0.5f;
    return std::copysign(rounded, value);
  }
  // Keep 10 of the float's 23 fraction bits, rounding the 13 dropped ties to even; a carry moves
  // into the exponent, as it should.
  const std::uint32_t keptLsb = (bits >> 13) & 1u;
  bits = (bits + 0x0fffu + keptLsb) & ~0x1fffu;
  float rounded;
  std::memcpy(&rounded, &bits, sizeof rounded);
  if (std::fabs(rounded) > 65504.0f)  // past the largest half: infinity
    return std::copysign(INFINITY, value);
  return rounded;
}

inline void roundToHalf(float *values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    values[i] = roundToHalf(values[i]);
}

// As roundToHalf, but a value past the half range is left as it is, so that the engine's write-back
// applies the floating-point behaviour (saturate, NaN, or an exception naming the op) to it.
inline float roundToHalfWithinRange(float value) {
  const float rounded = roundToHalf(value);
  return std::isinf(rounded) && !std::isinf(value) ? value : rounded;
}

inline void roundToHalfWithinRange(float *values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    values[i] = roundToHalfWithinRange(values[i]);
}

} // namespace poplar_emulator
