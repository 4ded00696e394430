#include "kernels/random_kernels.h"

#include <cmath>

namespace poplar_emulator {
namespace {

// Philox4x32-10 constants (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;

void mulHiLo(std::uint32_t a, std::uint32_t b, std::uint32_t *hi, std::uint32_t *lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(product >> 32);
  *lo = static_cast<std::uint32_t>(product);
}

// 24 random bits as a float in [0, 1).
float unitFloat(std::uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

template <class PerElement> void forEachRandom(const RandomKey &key, std::size_t count, PerElement f) {
  std::uint32_t words[4];
  for (std::size_t block = 0; block * 4 < count; ++block) {
    philox4x32(key, block, words);
    for (std::size_t j = 0; j < 4 && block * 4 + j < count; ++j)
      f(block * 4 + j, words[j]);
  }
}

} // namespace

void philox4x32(const RandomKey &key, std::uint64_t counter, std::uint32_t out[4]) {
  std::uint32_t c[4] = {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), key.modifier,
                        key.stream};
  std::uint32_t k[2] = {key.seed[0], key.seed[1]};
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulHiLo(kMultiplier0, c[0], &hi0, &lo0);
    mulHiLo(kMultiplier1, c[2], &hi1, &lo1);
    const std::uint32_t next[4] = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    for (int i = 0; i < 4; ++i)
      c[i] = next[i];
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  for (int i = 0; i < 4; ++i)
    out[i] = c[i];
}

void uniformFloatKernel(const RandomKey &key, float *out, std::size_t count, double minValue, double maxValue) {
  const float lo = static_cast<float>(minValue);
  const float range = static_cast<float>(maxValue - minValue);
  forEachRandom(key, count, [&](std::size_t i, std::uint32_t bits) { out[i] = lo + range * unitFloat(bits); });
}

void uniformIntKernel(const RandomKey &key, std::int32_t *out, std::size_t count, std::int64_t minValue,
                      std::int64_t maxValue) {
  const std::uint64_t range = static_cast<std::uint64_t>(maxValue - minValue) + 1;
  forEachRandom(key, count, [&](std::size_t i, std::uint32_t bits) {
    out[i] = static_cast<std::int32_t>(minValue + static_cast<std::int64_t>(bits % range));
  });
}

void dropoutKernel(const RandomKey &key, const float *in, float *out, std::size_t count, double keepProbability,
                   double scale) {
  // Keep when the 24-bit uniform is below keepProbability * 2^24: exact for probabilities that are
  // multiples of 2^-24.
  const std::uint32_t threshold = static_cast<std::uint32_t>(std::llround(keepProbability * 16777216.0));
  const float s = static_cast<float>(scale);
  forEachRandom(key, count, [&](std::size_t i, std::uint32_t bits) { out[i] = (bits >> 8) < threshold ? in[i] * s : 0.0f; });
}

} // namespace poplar_emulator
