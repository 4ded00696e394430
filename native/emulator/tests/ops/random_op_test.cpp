// poprand through the engine: dropout statistics, reproducibility under one seed, and uniform.
#include "engine_harness.h"

#include <poplar/exceptions.hpp>
#include <poprand/RandomGen.hpp>

using namespace ops_test;

TEST(RandomOp, DropoutUnderOneSeedIsReproducibleAndKeepsTheStatedFraction) {
  const std::size_t n = 20000;
  const double keep = 0.8;
  std::vector<std::vector<float>> results;
  for (int build = 0; build < 2; ++build) {
    Harness h;
    poplar::Tensor x = h.input(poplar::HALF, {n}, "x");
    poplar::Tensor seed = h.input(poplar::UNSIGNED_INT, {2}, "seed");
    h.set("x", std::vector<float>(n, 1.0f));
    h.setUnsigned("seed", {42, 7});
    poplar::Tensor y = poprand::dropout(h.graph, &seed, 3, x, x, keep, 1 / keep, h.prog, "dropout");
    poplar::Tensor again = poprand::dropout(h.graph, &seed, 3, x, x, keep, 1 / keep, h.prog, "regenerated");
    poplar::Tensor other = poprand::dropout(h.graph, &seed, 4, x, x, keep, 1 / keep, h.prog, "otherModifier");
    h.readBack("y", y);
    h.readBack("again", again);
    h.readBack("other", other);
    h.run();
    const auto yv = h.read("y", n);
    EXPECT_EQ(yv, h.read("again", n));  // same seed and modifier: the same mask (the backward pass)
    EXPECT_NE(yv, h.read("other", n));
    std::size_t kept = 0;
    for (float v : yv) {
      if (v != 0.0f) {
        ASSERT_EQ(v, toHalf(static_cast<float>(1 / keep)));  // kept values are scaled, rounded to half
        ++kept;
      }
    }
    // Binomial(n, 0.8): standard deviation sqrt(n * 0.8 * 0.2) = 57; 5 of them.
    EXPECT_NEAR(static_cast<double>(kept), n * keep, 5 * std::sqrt(n * keep * (1 - keep)));
    results.push_back(yv);
  }
  EXPECT_EQ(results[0], results[1]);  // a fresh engine with the same seed gives the same numbers
}

TEST(RandomOp, UniformHasItsRangeAndMeanAndFollowsTheSeed) {
  Harness h;
  const std::size_t n = 50000;
  poplar::Tensor ref = h.input(poplar::FLOAT, {n}, "ref");
  poplar::Tensor seed = h.input(poplar::UNSIGNED_INT, {2}, "seed");
  h.set("ref", std::vector<float>(n, 0.0f));
  h.setUnsigned("seed", {1, 2});
  poplar::Tensor u = poprand::uniform(h.graph, &seed, 0, ref, poplar::FLOAT, -1.0, 3.0, h.prog, "uniform");
  poplar::Tensor i = poprand::uniform(h.graph, &seed, 1, ref, poplar::INT, 0.0, 9.0, h.prog, "ints");
  h.readBack("u", u);
  h.readBack("i", i);
  h.run();
  const auto uv = h.read("u", n);
  double sum = 0;
  for (float v : uv) {
    ASSERT_GE(v, -1.0f);
    ASSERT_LT(v, 3.0f);
    sum += v;
  }
  // Mean 1, variance 16 / 12: the sample mean's standard deviation is sqrt(4 / 3 / n); 5 of them.
  EXPECT_NEAR(sum / n, 1.0, 5 * std::sqrt(4.0 / 3.0 / n));
  double isum = 0;
  for (float v : h.read("i", n)) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 9.0f);
    ASSERT_EQ(v, std::floor(v));
    isum += v;
  }
  // Mean 4.5, variance (10^2 - 1) / 12 = 8.25.
  EXPECT_NEAR(isum / n, 4.5, 5 * std::sqrt(8.25 / n));
}

TEST(RandomOp, WithoutASeedEachRunDrawsAFreshMask) {
  Harness h;
  const std::size_t n = 1000;
  poplar::Tensor x = h.input(poplar::FLOAT, {n}, "x");
  h.set("x", std::vector<float>(n, 1.0f));
  poplar::Tensor y = poprand::dropout(h.graph, nullptr, 0, x, x, 0.5, 2.0, h.prog, "dropout");
  h.readBack("y", y);
  h.run();
  const auto first = h.read("y", n);
  h.runAgain();
  EXPECT_NE(first, h.read("y", n));
  poplar::Tensor badSeed = h.input(poplar::FLOAT, {2}, "badSeed");
  EXPECT_THROW(poprand::dropout(h.graph, &badSeed, 0, x, x, 0.5, 2.0, h.prog, "d"), poplar::poplar_error);
  EXPECT_THROW(poprand::dropout(h.graph, nullptr, 0, x, x, 1.5, 2.0, h.prog, "d"), poplar::poplar_error);
}

TEST(RandomOp, SetSeedMakesSeedlessCallsReproducibleAndEachCallAdvancesTheGenerator) {
  Harness h;
  const std::size_t n = 2000;
  poplar::Tensor x = h.input(poplar::FLOAT, {n}, "x");
  poplar::Tensor master = h.input(poplar::UNSIGNED_INT, {2}, "master");
  h.set("x", std::vector<float>(n, 1.0f));
  h.setUnsigned("master", {9, 10});
  poprand::setSeed(h.graph, master, 0, h.prog, "setSeed");
  poplar::Tensor first = poprand::dropout(h.graph, nullptr, 0, x, x, 0.5, 2.0, h.prog, "first");
  poplar::Tensor second = poprand::dropout(h.graph, nullptr, 0, x, x, 0.5, 2.0, h.prog, "second");
  h.readBack("first", first);
  h.readBack("second", second);
  h.run();
  const auto a = h.read("first", n), b = h.read("second", n);
  EXPECT_NE(a, b);  // the first call advanced the generator
  h.runAgain();     // setSeed runs again at the start of the program: the same draws
  EXPECT_EQ(h.read("first", n), a);
  EXPECT_EQ(h.read("second", n), b);
}
