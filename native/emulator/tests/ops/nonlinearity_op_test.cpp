// popnn non-linearities through the engine: forward and input gradient, float and half.
#include "engine_harness.h"

#include <poplar/exceptions.hpp>
#include <popnn/NonLinearity.hpp>

using namespace ops_test;

namespace {

double geluTanh(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

} // namespace

TEST(NonLinearityOp, GeluForwardAndGradientInFloatAndHalf) {
  auto rng = testRng();
  for (bool half : {false, true}) {
    Harness h;
    const poplar::Type type = half ? poplar::HALF : poplar::FLOAT;
    const std::size_t n = 257;
    poplar::Tensor x = h.input(type, {n}, "x");
    poplar::Tensor g = h.input(type, {n}, "g");
    const auto xv = randomValues(rng, n, -4, 4, half);
    const auto gv = randomValues(rng, n, -1, 1, half);
    h.set("x", xv);
    h.set("g", gv);
    poplar::Tensor y = popnn::nonLinearity(h.graph, popnn::NonLinearityType::GELU, x, h.prog, "gelu");
    poplar::Tensor dx = popnn::nonLinearityInputGradient(h.graph, popnn::NonLinearityType::GELU, x, g, h.prog, "dgelu");
    h.readBack("y", y);
    h.readBack("dx", dx);
    h.run();
    std::vector<double> ey(n), by(n), edx(n), bdx(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double hstep = 1e-5;
      ey[i] = geluTanh(xv[i]);
      edx[i] = gv[i] * (geluTanh(xv[i] + hstep) - geluTanh(xv[i] - hstep)) / (2 * hstep);
      // Float: the kernel's bound (64 float units of |y| + 1e-7, see the kernel test); half adds one
      // rounding of the result (a half unit) and the subnormal spacing 2^-24.
      by[i] = 64 * kFloatUnit * std::fabs(ey[i]) + 1e-7 + (half ? kHalfUnit * std::fabs(ey[i]) + 0x1p-24 : 0.0);
      bdx[i] = 256 * kFloatUnit * std::fabs(gv[i]) + 1e-7 + (half ? kHalfUnit * std::fabs(edx[i]) + 0x1p-24 : 0.0);
    }
    expectWithin(h.read("y", n), ey, by, half ? "half gelu" : "float gelu");
    expectWithin(h.read("dx", n), edx, bdx, half ? "half gelu gradient" : "float gelu gradient");
  }
}

TEST(NonLinearityOp, SoftmaxInPlaceOnAViewActsOnItsInnermostDimension) {
  Harness h;
  poplar::Tensor scores = h.input(poplar::FLOAT, {3, 4}, "scores");
  h.set("scores", {0, 1, 2, 3, 10, 10, 10, 10, -1, 0, 1, 1000});
  // The transpose makes rows of 3: softmax over each column of the stored [3, 4] tensor.
  popnn::nonLinearityInPlace(h.graph, popnn::NonLinearityType::SOFTMAX_STABLE, scores.transpose(), h.prog, "sm");
  h.readBack("out", scores);
  h.run();
  const auto out = h.read("out", 12);
  const double columns[4][3] = {{0, 10, -1}, {1, 10, 0}, {2, 10, 1}, {3, 10, 1000}};
  for (std::size_t c = 0; c < 4; ++c) {
    const double mx = std::max({columns[c][0], columns[c][1], columns[c][2]});
    double sum = 0;
    for (double v : columns[c])
      sum += std::exp(v - mx);
    for (std::size_t r = 0; r < 3; ++r)  // exp, a 3-term sum, a division: 8 float units
      EXPECT_NEAR(out[r * 4 + c], std::exp(columns[c][r] - mx) / sum, 8 * kFloatUnit) << r << "," << c;
  }
}

TEST(NonLinearityOp, ReluGradientUsesTheForwardOutputAndScaledSoftmaxIsRefused) {
  Harness h;
  poplar::Tensor x = h.input(poplar::FLOAT, {4}, "x");
  poplar::Tensor g = h.input(poplar::FLOAT, {4}, "g");
  h.set("x", {-1, 2, 0, 3});
  h.set("g", {5, 6, 7, 8});
  float scaling = 0;
  poplar::Tensor y = popnn::nonLinearity(h.graph, popnn::NonLinearityType::RELU, x, scaling, h.prog, "relu");
  EXPECT_EQ(scaling, 1.0f);
  poplar::Tensor dx = popnn::nonLinearityInputGradient(h.graph, popnn::NonLinearityType::RELU, y, g, h.prog, "drelu");
  h.readBack("dx", dx);
  h.run();
  EXPECT_EQ(h.read("dx", 4), (std::vector<float>{0, 6, 0, 8}));
  EXPECT_THROW(popnn::nonLinearity(h.graph, popnn::NonLinearityType::SOFTMAX_SCALED, x, h.prog, "s"),
               poplar::poplar_error);
}

TEST(NonLinearityOp, HalfSoftmaxIsComputedInFloatAndRoundedOnce) {
  auto rng = testRng();
  Harness h;
  const std::size_t rows = 4, width = 100;
  poplar::Tensor x = h.input(poplar::HALF, {rows, width}, "x");
  const auto xv = randomValues(rng, rows * width, -8, 8, true);
  h.set("x", xv);
  poplar::Tensor y = popnn::nonLinearity(h.graph, popnn::NonLinearityType::SOFTMAX_STABLE, x, h.prog, "sm");
  h.readBack("y", y);
  h.run();
  std::vector<double> expected(rows * width), bound(rows * width);
  for (std::size_t r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0;
    for (std::size_t i = 0; i < width; ++i)
      mx = std::max(mx, static_cast<double>(xv[r * width + i]));
    for (std::size_t i = 0; i < width; ++i)
      sum += std::exp(xv[r * width + i] - mx);
    for (std::size_t i = 0; i < width; ++i) {
      expected[r * width + i] = std::exp(xv[r * width + i] - mx) / sum;
      // One half rounding of a float result that is within 110 float units (a 100-term sum): a
      // half unit plus that, plus the subnormal spacing 2^-24 for tiny probabilities.
      bound[r * width + i] = (kHalfUnit + 110 * kFloatUnit) * expected[r * width + i] + 0x1p-24;
    }
  }
  expectWithin(h.read("y", rows * width), expected, bound, "half softmax");
}
