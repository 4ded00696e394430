#include "kernels/random_kernels.h"
#include "op_reference.h"

using namespace poplar_emulator;
using namespace ops_test;

TEST(RandomKernels, PhiloxMatchesThePublishedKnownAnswer) {
  // Random123's known-answer test for philox4x32-10 with counter and key all ones-bits:
  // ctr = {0xffffffff x4}, key = {0xffffffff x2} -> {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}.
  RandomKey key;
  key.seed[0] = key.seed[1] = 0xffffffffu;
  key.modifier = key.stream = 0xffffffffu;
  std::uint32_t out[4];
  philox4x32(key, 0xffffffffffffffffull, out);
  EXPECT_EQ(out[0], 0x408f276du);
  EXPECT_EQ(out[1], 0x41c83b0eu);
  EXPECT_EQ(out[2], 0xa20bc7c6u);
  EXPECT_EQ(out[3], 0x6d5451fdu);
}

TEST(RandomKernels, SameKeyGivesSameNumbersAndAnyKeyChangeGivesOthers) {
  RandomKey key;
  key.seed[0] = 11;
  key.seed[1] = 22;
  key.modifier = 3;
  std::vector<float> a(1000), b(1000), c(1000);
  uniformFloatKernel(key, a.data(), a.size(), -1, 1);
  uniformFloatKernel(key, b.data(), b.size(), -1, 1);
  EXPECT_EQ(a, b);
  key.modifier = 4;
  uniformFloatKernel(key, c.data(), c.size(), -1, 1);
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    same += a[i] == c[i];
  EXPECT_LT(same, 5u);  // 24-bit values: a chance match is about 1000 / 2^23
}

TEST(RandomKernels, UniformHasTheRangeMeanAndVarianceOfItsDistribution) {
  RandomKey key;
  key.seed[0] = 5;
  const std::size_t n = 200000;
  std::vector<float> u(n);
  uniformFloatKernel(key, u.data(), n, 2.0, 5.0);
  double sum = 0, sumSquares = 0;
  for (float v : u) {
    ASSERT_GE(v, 2.0f);
    ASSERT_LT(v, 5.0f);
    sum += v;
    sumSquares += v * v;
  }
  const double mean = sum / n, variance = sumSquares / n - mean * mean;
  // Mean 3.5, variance 9/12 = 0.75: the sample mean's standard deviation is sqrt(0.75 / n) = 0.0019;
  // 5 of them, about a one-in-a-million miss for a correct generator.
  EXPECT_NEAR(mean, 3.5, 5 * std::sqrt(0.75 / n));
  // The sample variance's standard deviation is about sqrt((m4 - var^2) / n) = sqrt(0.45 / n).
  EXPECT_NEAR(variance, 0.75, 5 * std::sqrt(0.45 / n));

  std::vector<std::int32_t> ints(n);
  uniformIntKernel(key, ints.data(), n, -3, 3);
  std::vector<std::size_t> histogram(7, 0);
  for (std::int32_t v : ints) {
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    ++histogram[static_cast<std::size_t>(v + 3)];
  }
  // Each count is binomial(n, 1/7): standard deviation sqrt(n * 1/7 * 6/7) = 156; 5 of them.
  for (std::size_t count : histogram)
    EXPECT_NEAR(static_cast<double>(count), n / 7.0, 5 * std::sqrt(n / 7.0 * 6.0 / 7.0));
}

TEST(RandomKernels, DropoutKeepsTheStatedFractionScaledAndIsReproducible) {
  RandomKey key;
  key.seed[0] = 1234;
  key.seed[1] = 99;
  const std::size_t n = 100000;
  const std::vector<float> in(n, 2.0f);
  std::vector<float> out(n), again(n);
  const double keep = 0.9, scale = 1 / keep;
  dropoutKernel(key, in.data(), out.data(), n, keep, scale);
  dropoutKernel(key, in.data(), again.data(), n, keep, scale);
  EXPECT_EQ(out, again);
  std::size_t kept = 0;
  for (float v : out) {
    if (v != 0.0f) {
      ASSERT_FLOAT_EQ(v, static_cast<float>(2.0 * scale));
      ++kept;
    }
  }
  // Kept count is binomial(n, 0.9): standard deviation sqrt(n * 0.9 * 0.1) = 95; 5 of them.
  EXPECT_NEAR(static_cast<double>(kept), n * keep, 5 * std::sqrt(n * keep * (1 - keep)));
  key.stream = 1;
  dropoutKernel(key, in.data(), again.data(), n, keep, scale);
  EXPECT_NE(out, again);  // another stream position draws another mask
}
