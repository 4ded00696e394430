// poprand's generators: counter-based (Philox4x32-10), so a value depends only on the seed, the
// seed modifier, the call's stream position and the element's index. The same seed gives the same
// numbers on every run, and a dropout mask can be regenerated exactly for the backward pass.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poplar_emulator {

struct RandomKey {
  std::uint32_t seed[2] = {0, 0};
  std::uint32_t modifier = 0;
  std::uint32_t stream = 0;  // distinguishes successive calls that share a seed (the hardware RNG's state)
};

// Four 32-bit random words for counter value counter.
void philox4x32(const RandomKey &key, std::uint64_t counter, std::uint32_t out[4]);

// Uniform in [minValue, maxValue) for floats.
void uniformFloatKernel(const RandomKey &key, float *out, std::size_t count, double minValue, double maxValue);

// Uniform integers in [minValue, maxValue] (inclusive, as poprand's integer uniform).
void uniformIntKernel(const RandomKey &key, std::int32_t *out, std::size_t count, std::int64_t minValue,
                      std::int64_t maxValue);

// out[i] = in[i] * scale with probability keepProbability, else 0.
void dropoutKernel(const RandomKey &key, const float *in, float *out, std::size_t count, double keepProbability,
                   double scale);

} // namespace poplar_emulator
