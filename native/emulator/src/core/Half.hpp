#pragma once
// IEEE binary16 <-> float conversions, shared by the engine and every kernel.
// Round-to-nearest-even, and stochastic rounding: a value between two adjacent halves lo < |x| < hi
// rounds away from zero with probability (|x| - lo) / (hi - lo), so the rounding error has mean 0.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace poplar_emulator {

constexpr float kHalfMax = 65504.0f;

inline float halfToFloat(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: value = mantissa * 2^-24, exact in float.
    float v = std::ldexp(static_cast<float>(mantissa), -24);
    std::memcpy(&bits, &v, sizeof bits);
    bits |= sign;
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

inline std::uint16_t floatToHalfRne(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  std::uint32_t absBits = bits & 0x7fffffffu;
  if (absBits >= 0x7f800000u) { // inf or NaN; NaN keeps a quiet payload bit
    return static_cast<std::uint16_t>(sign | 0x7c00u | (absBits > 0x7f800000u ? 0x200u : 0u));
  }
  if (absBits >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u); // rounds past 65504
  if (absBits < 0x38800000u) {
    // Result is subnormal or zero: units of 2^-24, rounded to nearest even by the FPU's default mode.
    float a;
    std::memcpy(&a, &absBits, sizeof a);
    float units = std::nearbyint(std::ldexp(a, 24));
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(units));
  }
  std::uint32_t exponent = (absBits >> 23) - 112u;
  std::uint32_t mantissa = absBits & 0x7fffffu;
  std::uint32_t half = (exponent << 10) | (mantissa >> 13);
  std::uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half; // carries into the exponent correctly
  return static_cast<std::uint16_t>(sign | half);
}

// `random` is 32 uniformly distributed bits.
inline std::uint16_t floatToHalfStochastic(float f, std::uint32_t random) {
  if (!std::isfinite(f)) return floatToHalfRne(f);
  std::uint16_t sign = std::signbit(f) ? 0x8000u : 0u;
  double a = std::fabs(static_cast<double>(f));
  if (a > 65504.0) {
    // Between the largest half and the next power-of-two step (65536): overflow with that probability.
    double p = (a - 65504.0) / 32.0;
    double u = (static_cast<double>(random) + 0.5) / 4294967296.0;
    return (p >= 1.0 || u < p) ? static_cast<std::uint16_t>(sign | 0x7c00u) : static_cast<std::uint16_t>(sign | 0x7bffu);
  }
  // Truncate toward zero to the half below, then step up by one ulp with probability = fraction.
  std::uint16_t lo = floatToHalfRne(static_cast<float>(a));
  if (static_cast<double>(halfToFloat(lo)) > a) --lo;
  double loValue = halfToFloat(lo);
  if (loValue == a) return static_cast<std::uint16_t>(sign | lo);
  double hiValue = (lo == 0x7bffu) ? 65536.0 : static_cast<double>(halfToFloat(static_cast<std::uint16_t>(lo + 1)));
  double p = (a - loValue) / (hiValue - loValue);
  double u = (static_cast<double>(random) + 0.5) / 4294967296.0;
  std::uint16_t out = u < p ? static_cast<std::uint16_t>(lo + 1) : lo;
  return static_cast<std::uint16_t>(sign | out);
}

// A float rounded to the nearest half (ties to even) but kept as float: how a kernel models an op whose
// result is HALF. Works on the float's bits, so loops over arrays stay cheap; agrees with floatToHalfRne.
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
