#include "kernels/nonlinearity_kernels.h"
#include "op_reference.h"

#include <functional>

using namespace poplar_emulator;
using namespace ops_test;
using popnn::NonLinearityType;

namespace {

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double geluTanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double geluErf(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

double forwardReference(NonLinearityType type, double x) {
  switch (type) {
  case NonLinearityType::SIGMOID: return sigmoid(x);
  case NonLinearityType::HARD_SIGMOID: return std::clamp(0.2 * x + 0.5, 0.0, 1.0);
  case NonLinearityType::RELU: return x > 0 ? x : 0;
  case NonLinearityType::TANH: return std::tanh(x);
  case NonLinearityType::GELU: return geluTanh(x);
  case NonLinearityType::GELU_ERF: return geluErf(x);
  case NonLinearityType::SWISH: return x * sigmoid(x);
  default: return NAN;
  }
}

const NonLinearityType kElementWise[] = {NonLinearityType::SIGMOID, NonLinearityType::HARD_SIGMOID,
                                         NonLinearityType::RELU,    NonLinearityType::TANH,
                                         NonLinearityType::GELU,    NonLinearityType::GELU_ERF,
                                         NonLinearityType::SWISH};

} // namespace

TEST(NonLinearityKernels, ElementWiseForwardMatchesFloat64) {
  auto rng = testRng();
  for (NonLinearityType type : kElementWise) {
    const auto x = randomValues(rng, 500, -6, 6, false);
    std::vector<float> y(x.size());
    nonLinearityKernel(type, x.data(), y.data(), x.size(), x.size());
    std::vector<double> expected(x.size()), bound(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      expected[i] = forwardReference(type, x[i]);
      // A handful of float operations (at most 8, each within 2 units including exp/tanh/erfc)
      // applied to values whose condition number stays below 4 on [-6, 6]: 64 units of the result,
      // plus an absolute 1e-7 floor where the result passes through 0.
      bound[i] = 64 * kFloatUnit * std::fabs(expected[i]) + 1e-7;
    }
    expectWithin(y, expected, bound, "type " + std::to_string(static_cast<int>(type)));
  }
}

TEST(NonLinearityKernels, GradientsMatchCentralDifferencesOfTheFloat64Forward) {
  auto rng = testRng();
  for (NonLinearityType type : kElementWise) {
    // Keep clear of the kinks of RELU (0) and HARD_SIGMOID (+-2.5), where the derivative jumps.
    auto x = randomValues(rng, 300, -5, 5, false);
    for (float &v : x)
      if (std::fabs(v) < 0.01f || std::fabs(std::fabs(v) - 2.5f) < 0.01f)
        v += 0.05f;
    const auto g = randomValues(rng, x.size(), -1, 1, false);
    std::vector<float> forward(x.size()), grad(x.size());
    nonLinearityKernel(type, x.data(), forward.data(), x.size(), x.size());
    const std::vector<float> &gradientArgument = gradientTakesForwardInput(type) ? x : forward;
    nonLinearityGradientKernel(type, gradientArgument.data(), g.data(), grad.data(), x.size(), x.size());
    std::vector<double> expected(x.size()), bound(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double h = 1e-5;
      const double derivative = (forwardReference(type, x[i] + h) - forwardReference(type, x[i] - h)) / (2 * h);
      expected[i] = g[i] * derivative;
      // The central difference is within h^2 |f'''| / 6 < 1e-10 of the derivative; the float
      // gradient computes from a forward value carrying 64 units (see above), through a slope
      // below 2: 256 float units of |g| plus the 1e-7 floor.
      bound[i] = 256 * kFloatUnit * std::fabs(g[i]) + 1e-7;
    }
    expectWithin(grad, expected, bound, "type " + std::to_string(static_cast<int>(type)));
  }
}

TEST(NonLinearityKernels, SoftmaxRowsSumToOneAndTheStableFormSurvivesLargeInputs) {
  auto rng = testRng();
  const std::size_t rows = 7, width = 33;
  auto x = randomValues(rng, rows * width, -5, 5, false);
  std::vector<float> y(x.size()), stable(x.size());
  nonLinearityKernel(NonLinearityType::SOFTMAX, x.data(), y.data(), x.size(), width);
  for (float &v : x)
    v += 200.0f;  // exp(205) overflows float: only the stable form can cope
  nonLinearityKernel(NonLinearityType::SOFTMAX_STABLE, x.data(), stable.data(), x.size(), width);
  std::vector<double> expected(x.size()), bound(x.size());
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t i = 0; i < width; ++i)
      sum += std::exp(static_cast<double>(x[r * width + i]) - 200.0);
    for (std::size_t i = 0; i < width; ++i) {
      expected[r * width + i] = std::exp(static_cast<double>(x[r * width + i]) - 200.0) / sum;
      // exp of a shifted value (the +200 shift rounds the input by up to 2^-17 absolute, i.e. a
      // relative change of the result of 2^-17), a 33-term float sum and one division.
      bound[r * width + i] = (0x1p-16 + 40 * kFloatUnit) * expected[r * width + i];
    }
  }
  expectWithin(stable, expected, bound, "stable softmax of inputs near 200");
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t i = 0; i < width; ++i)
      sum += y[r * width + i];
    EXPECT_NEAR(sum, 1.0, 40 * kFloatUnit);  // 33 terms, each a couple of roundings
  }
}

TEST(NonLinearityKernels, SoftmaxGradientMatchesTheJacobian) {
  const std::vector<float> x = {0.1f, -0.3f, 0.7f, 2.0f, 1.0f, 0.0f};
  const std::vector<float> g = {0.5f, -1.0f, 0.25f, 1.0f, 0.0f, -0.5f};
  std::vector<float> y(6), grad(6);
  nonLinearityKernel(NonLinearityType::SOFTMAX_STABLE, x.data(), y.data(), 6, 3);
  nonLinearityGradientKernel(NonLinearityType::SOFTMAX_STABLE, y.data(), g.data(), grad.data(), 6, 3);
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < 3; ++i) {
      double expected = 0;
      for (std::size_t j = 0; j < 3; ++j) {
        const double yi = y[r * 3 + i], yj = y[r * 3 + j];
        expected += g[r * 3 + j] * ((i == j ? yi : 0.0) - yi * yj);
      }
      EXPECT_NEAR(grad[r * 3 + i], expected, 16 * kFloatUnit);  // a 3-term dot product of values below 1
    }
}

TEST(NonLinearityKernels, InPlaceFormWritesOverItsInput) {
  std::vector<float> x = {-1.0f, 0.5f, 2.0f};
  nonLinearityKernel(NonLinearityType::RELU, x.data(), x.data(), x.size(), x.size());
  EXPECT_EQ(x, (std::vector<float>{0.0f, 0.5f, 2.0f}));
}
