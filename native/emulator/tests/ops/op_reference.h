// Shared pieces of the op tests: seeded random data and shapes, float64 references, and the
// comparison that reports the worst element against its stated bound.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ops_test {

// Unit roundoff of float and of IEEE binary16: the largest relative error of one rounding.
constexpr double kFloatUnit = 0x1p-24;
constexpr double kHalfUnit = 0x1p-11;

inline float toHalf(float x) { return static_cast<float>(static_cast<_Float16>(x)); }
inline double toHalf(double x) { return static_cast<double>(static_cast<_Float16>(static_cast<float>(x))); }

// A generator seeded from the running test's name, so each test's data is fixed and distinct.
inline std::mt19937_64 testRng() {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = std::string(info->test_suite_name()) + "." + info->name();
  return std::mt19937_64(std::hash<std::string>{}(name));
}

inline std::vector<float> randomValues(std::mt19937_64 &rng, std::size_t n, float lo, float hi, bool half) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = half ? toHalf(dist(rng)) : dist(rng);
  return v;
}

inline std::size_t randomSize(std::mt19937_64 &rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

inline std::vector<std::size_t> randomShape(std::mt19937_64 &rng, std::size_t rank, std::size_t maxDim) {
  std::vector<std::size_t> shape(rank);
  for (std::size_t &d : shape)
    d = randomSize(rng, 1, maxDim);
  return shape;
}

inline std::size_t elementCount(const std::vector<std::size_t> &shape) {
  std::size_t n = 1;
  for (std::size_t d : shape)
    n *= d;
  return n;
}

// Every |actual[i] - expected[i]| must be within bound[i]; reports the worst element.
inline void expectWithin(const std::vector<float> &actual, const std::vector<double> &expected,
                         const std::vector<double> &bound, const std::string &what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  std::size_t worst = 0;
  double worstRatio = -1.0;
  bool failed = false;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double error = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    const bool bad = !(error <= bound[i]) && !(std::isnan(actual[i]) && std::isnan(expected[i])) &&
                     !(std::isinf(actual[i]) && actual[i] == expected[i]);
    const double ratio = bound[i] > 0 ? error / bound[i] : (error > 0 ? INFINITY : 0.0);
    if (bad || (!failed && ratio > worstRatio)) {
      if (bad && !failed)
        worstRatio = -1.0;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worst = i;
      }
      failed = failed || bad;
    }
  }
  EXPECT_FALSE(failed) << what << ": element " << worst << " is " << actual[worst] << ", expected "
                       << expected[worst] << " within " << bound[worst];
}

} // namespace ops_test
