// HALF as IEEE binary16: round-to-nearest-even, stochastic rounding, and the floating-point behaviour.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <poplar/CSRFunctions.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/RandomSeed.hpp>
#include <poputil/TileMapping.hpp>

#include "TestSupport.hpp"
#include "core/Half.hpp"

namespace {

using emulator_test::smallDevice;
using poplar_emulator::floatToHalfRne;
using poplar_emulator::halfToFloat;

TEST(HalfConversion, EveryHalfRoundTripsAndMidpointsRoundToEven) {
  for (unsigned bits = 0; bits < 0x10000u; ++bits) {
    std::uint16_t h = static_cast<std::uint16_t>(bits);
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue; // NaN payloads are not preserved
    ASSERT_EQ(floatToHalfRne(halfToFloat(h)), h) << std::hex << bits;
  }
  // Between adjacent positive finite halves, the midpoint goes to the even one and anything off the
  // midpoint to the nearer one (the float grid is 2^13 times finer, so these are exact floats).
  for (std::uint16_t h = 0; h < 0x7bffu; ++h) {
    float lo = halfToFloat(h), hi = halfToFloat(static_cast<std::uint16_t>(h + 1));
    float mid = lo + (hi - lo) / 2;
    std::uint16_t even = (h & 1u) ? static_cast<std::uint16_t>(h + 1) : h;
    ASSERT_EQ(floatToHalfRne(mid), even) << h;
    ASSERT_EQ(floatToHalfRne(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(floatToHalfRne(std::nextafter(mid, 1e9f)), static_cast<std::uint16_t>(h + 1)) << h;
  }
  EXPECT_EQ(floatToHalfRne(65519.0f), 0x7bffu);  // below the midpoint to the next step: 65504
  EXPECT_EQ(floatToHalfRne(65520.0f), 0x7c00u);  // the midpoint rounds to even: infinity
  EXPECT_EQ(floatToHalfRne(-1e-8f), 0x8000u);    // under half the smallest subnormal: -0
}

// N copies of `value` written to a HALF tensor by one kernel, with stochastic rounding on or off.
std::vector<std::uint16_t> writeHalves(float value, std::size_t n, bool stochastic, unsigned runs = 1) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor h = graph.addVariable(poplar::HALF, {n}, "h");
  poputil::mapTensorLinearly(graph, h);
  graph.createHostRead("h", h);
  poplar::program::Sequence prog;
  poplar::setStochasticRounding(graph, prog, stochastic);
  emulator_test::fillKernel(graph, prog, h, value);
  poplar::Engine engine(graph, prog);
  engine.load(device);
  for (unsigned r = 0; r < runs; ++r) engine.run(0);
  std::vector<std::uint16_t> out(n);
  engine.readTensor("h", out.data(), out.data() + n);
  return out;
}

TEST(StochasticRounding, MeanErrorIsZeroAndASeedReproduces) {
  // x sits a third of an ulp (2^-10) above 1: RNE always rounds it down to 1.
  const double ulp = std::ldexp(1.0, -10);
  const float x = static_cast<float>(1.0 + ulp / 3);
  const std::size_t n = 200000;
  std::vector<std::uint16_t> sr = writeHalves(x, n, true);
  double sum = 0;
  std::size_t up = 0;
  for (std::uint16_t h : sr) {
    double v = halfToFloat(h);
    ASSERT_TRUE(v == 1.0 || v == 1.0 + ulp) << v; // only the two neighbours are possible
    up += v > 1.0;
    sum += v - static_cast<double>(x);
  }
  double meanError = sum / static_cast<double>(n);
  // Each error is a Bernoulli(1/3) step of one ulp: the mean's standard deviation is
  // ulp * sqrt(p (1 - p) / n) = 1.03e-6; 5 sigma keeps the test from flaking.
  double sigma = ulp * std::sqrt((1.0 / 3) * (2.0 / 3) / static_cast<double>(n));
  EXPECT_LT(std::fabs(meanError), 5 * sigma) << meanError;
  EXPECT_NEAR(static_cast<double>(up) / static_cast<double>(n), 1.0 / 3, 5 * sigma / ulp);
  // Round to nearest even has mean error -ulp/3, hundreds of sigmas away.
  std::vector<std::uint16_t> rne = writeHalves(x, n, false);
  for (std::uint16_t h : rne) ASSERT_EQ(halfToFloat(h), 1.0f);
  // A fresh engine reproduces the same bits; a second run draws new ones.
  EXPECT_EQ(writeHalves(x, n, true), sr);
  EXPECT_NE(writeHalves(x, n, true, 2), sr);
}

TEST(StochasticRounding, HwSeedsSavedAndRestoredRepeatTheRoundings) {
  const float x = static_cast<float>(1.0 + std::ldexp(1.0, -10) / 2); // a midpoint: up or down with p = 1/2
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor first = graph.addVariable(poplar::HALF, {256}, "first");
  poplar::Tensor second = graph.addVariable(poplar::HALF, {256}, "second");
  poputil::mapTensorLinearly(graph, first);
  poputil::mapTensorLinearly(graph, second);
  graph.createHostRead("first", first);
  graph.createHostRead("second", second);
  poplar::program::Sequence prog;
  poplar::setStochasticRounding(graph, prog, true);
  poplar::Tensor seeds = poplar::getHwSeeds(graph, prog);
  emulator_test::fillKernel(graph, prog, first, x);
  poplar::setHwSeeds(graph, seeds, prog);
  emulator_test::fillKernel(graph, prog, second, x);
  poplar::Engine engine(graph, prog);
  engine.load(device);
  engine.run(0);
  std::vector<std::uint16_t> a(256), b(256);
  engine.readTensor("first", a.data(), a.data() + 256);
  engine.readTensor("second", b.data(), b.data() + 256);
  EXPECT_EQ(a, b);
  // Both neighbours occur: 256 fair draws all landing on one side has probability 2^-255.
  EXPECT_NE(std::count(a.begin(), a.end(), a[0]), 256);
}

struct OverflowCase {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph{device.getTarget()};
  poplar::Tensor h = graph.addVariable(poplar::HALF, {2}, "encoder/block3/ffn/out");
  poplar::program::Sequence prog;
  OverflowCase(poplar::FloatingPointBehaviour fpb, float value) {
    graph.setTileMapping(h, 0);
    graph.createHostRead("h", h);
    poplar::setFloatingPointBehaviour(graph, prog, fpb);
    poplar_emulator::Kernel k;
    k.name = "encoder/block3/ffn/mul";
    k.outputs = {h};
    k.body = [value](poplar_emulator::KernelIo &io) {
      io.output(0).floats[0] = 1.0f;
      io.output(0).floats[1] = value;
    };
    poplar_emulator::addKernel(graph, prog, std::move(k));
  }
  std::vector<std::uint16_t> run() {
    poplar::Engine engine(graph, prog);
    engine.load(device);
    engine.run(0);
    std::vector<std::uint16_t> out(2);
    engine.readTensor("h", out.data(), out.data() + 2);
    return out;
  }
};

TEST(FloatingPointBehaviour, HalfOverflowSaturatesOrGivesNaN) {
  OverflowCase saturate(poplar::FloatingPointBehaviour(false, false, false, false, false), -70000.0f);
  EXPECT_EQ(saturate.run(), (std::vector<std::uint16_t>{0x3c00, 0xfbff})); // 1, -65504
  OverflowCase nan(poplar::FloatingPointBehaviour(false, false, false, false, true), 70000.0f);
  std::vector<std::uint16_t> got = nan.run();
  EXPECT_EQ(got[0], 0x3c00);
  EXPECT_TRUE(std::isnan(halfToFloat(got[1])));
  // Just under the rounding boundary stays finite in both modes.
  OverflowCase edge(poplar::FloatingPointBehaviour(false, false, false, false, true), 65519.0f);
  EXPECT_EQ(edge.run()[1], 0x7bffu);
}

TEST(FloatingPointBehaviour, OverflowExceptionNamesTheOpAndTensor) {
  OverflowCase c(poplar::FloatingPointBehaviour(true, true, true, false, true), 70000.0f);
  try {
    c.run();
    FAIL() << "expected an overflow exception";
  } catch (const poplar::application_runtime_error &e) {
    std::string what = e.what();
    EXPECT_NE(what.find("overflow"), std::string::npos) << what;
    EXPECT_NE(what.find("encoder/block3/ffn/mul"), std::string::npos) << what;
    EXPECT_NE(what.find("encoder/block3/ffn/out"), std::string::npos) << what;
    EXPECT_NE(what.find("element 1"), std::string::npos) << what;
  }
  OverflowCase invalid(poplar::FloatingPointBehaviour(true, false, false, false, false), std::nanf(""));
  EXPECT_THROW(invalid.run(), poplar::application_runtime_error);
  OverflowCase quiet(poplar::FloatingPointBehaviour(false, false, false, false, false), std::nanf(""));
  EXPECT_TRUE(std::isnan(halfToFloat(quiet.run()[1])));
}

TEST(FloatingPointBehaviour, FloatInfinityRaisesWithOverflowExceptions) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor f = graph.addVariable(poplar::FLOAT, {1}, "logits");
  graph.setTileMapping(f, 0);
  poplar::program::Sequence prog;
  poplar::setFloatingPointBehaviour(graph, prog, poplar::FloatingPointBehaviour(false, false, true, false, false));
  emulator_test::fillKernel(graph, prog, f, std::numeric_limits<float>::infinity(), "decoder/softmax/exp");
  poplar::Engine engine(graph, prog);
  engine.load(device);
  try {
    engine.run(0);
    FAIL();
  } catch (const poplar::application_runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("decoder/softmax/exp"), std::string::npos) << e.what();
  }
}

} // namespace
