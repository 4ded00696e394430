#include "kernels/nonlinearity_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace poplar_emulator {
namespace {

using popnn::NonLinearityType;

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// The tanh form, 0.5 x (1 + tanh(z)) with z = sqrt(2/pi) (x + 0.044715 x^3), written as
// x * sigmoid(2z) (the same function, since 1 + tanh(z) = 2 sigmoid(2z)) so that negative x does
// not lose its digits to the cancellation in 1 + tanh(z).
float geluTanh(float x) {
  const float z = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
  return x * sigmoid(2.0f * z);
}

float geluTanhDerivative(float x) {
  const float z = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
  const float dz = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
  const float s = sigmoid(2.0f * z);
  return s + 2.0f * x * s * (1.0f - s) * dz;
}

// erfc rather than 1 + erf: no cancellation for negative x.
float geluErf(float x) { return 0.5f * x * std::erfc(-x * kInvSqrt2); }

float geluErfDerivative(float x) {
  return 0.5f * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

template <class F> void each(const float *in, float *out, std::size_t count, F f) {
  for (std::size_t i = 0; i < count; ++i)
    out[i] = f(in[i]);
}

template <class F> void eachGradient(const float *fwd, const float *g, float *out, std::size_t count, F f) {
  for (std::size_t i = 0; i < count; ++i)
    out[i] = g[i] * f(fwd[i]);
}

void softmaxRows(const float *in, float *out, std::size_t count, std::size_t rowLength, bool stable) {
  if (rowLength == 0)
    return;
  for (std::size_t r = 0; r < count / rowLength; ++r) {
    const float *x = in + r * rowLength;
    float *y = out + r * rowLength;
    float shift = 0.0f;
    if (stable) {
      shift = -std::numeric_limits<float>::infinity();
      for (std::size_t i = 0; i < rowLength; ++i)
        shift = std::max(shift, x[i]);
      if (std::isinf(shift))
        shift = 0.0f;
    }
    float sum = 0.0f;
    for (std::size_t i = 0; i < rowLength; ++i) {
      y[i] = std::exp(x[i] - shift);
      sum += y[i];
    }
    const float inv = 1.0f / sum;
    for (std::size_t i = 0; i < rowLength; ++i)
      y[i] *= inv;
  }
}

// Below this many elements a band is not worth a thread's wake-up.
constexpr std::size_t kMinBandElements = 1 << 15;

// Calls band(offset, count) over bands of whole rows that together cover [0, count).
template <class Band>
void inBands(std::size_t count, std::size_t rowLength, PartRunner *workers, Band band) {
  const std::size_t rows = rowLength == 0 ? 0 : count / rowLength;
  const std::size_t threads = workers ? workers->threads() : 1;
  const std::size_t parts = std::min<std::size_t>(threads, std::max<std::size_t>(1, count / kMinBandElements));
  if (parts <= 1 || rows < parts) {
    band(0, count);
    return;
  }
  workers->run(parts, [&](std::size_t part) {
    const auto [r0, r1] = partRange(rows, parts, part);
    band(r0 * rowLength, (r1 - r0) * rowLength);
  });
}

void forward(NonLinearityType type, const float *in, float *out, std::size_t count, std::size_t rowLength) {
  switch (type) {
  case NonLinearityType::SIGMOID: return each(in, out, count, sigmoid);
  case NonLinearityType::HARD_SIGMOID:
    return each(in, out, count, [](float x) { return std::clamp(0.2f * x + 0.5f, 0.0f, 1.0f); });
  case NonLinearityType::RELU: return each(in, out, count, [](float x) { return x > 0.0f ? x : (x == x ? 0.0f : x); });
  case NonLinearityType::TANH: return each(in, out, count, [](float x) { return std::tanh(x); });
  case NonLinearityType::GELU: return each(in, out, count, geluTanh);
  case NonLinearityType::GELU_ERF: return each(in, out, count, geluErf);
  case NonLinearityType::SWISH: return each(in, out, count, [](float x) { return x * sigmoid(x); });
  case NonLinearityType::SOFTMAX: return softmaxRows(in, out, count, rowLength, false);
  case NonLinearityType::SOFTMAX_STABLE: return softmaxRows(in, out, count, rowLength, true);
  case NonLinearityType::SOFTMAX_SCALED: break;
  }
  throw std::invalid_argument("popnn::nonLinearity: SOFTMAX_SCALED is not implemented by the emulator");
}

void gradient(NonLinearityType type, const float *fwd, const float *g, float *out, std::size_t count,
              std::size_t rowLength) {
  switch (type) {
  case NonLinearityType::SIGMOID: return eachGradient(fwd, g, out, count, [](float y) { return y * (1.0f - y); });
  case NonLinearityType::HARD_SIGMOID:
    return eachGradient(fwd, g, out, count, [](float y) { return (y > 0.0f && y < 1.0f) ? 0.2f : 0.0f; });
  case NonLinearityType::RELU: return eachGradient(fwd, g, out, count, [](float y) { return y > 0.0f ? 1.0f : 0.0f; });
  case NonLinearityType::TANH: return eachGradient(fwd, g, out, count, [](float y) { return 1.0f - y * y; });
  case NonLinearityType::GELU: return eachGradient(fwd, g, out, count, geluTanhDerivative);
  case NonLinearityType::GELU_ERF: return eachGradient(fwd, g, out, count, geluErfDerivative);
  case NonLinearityType::SWISH:
    return eachGradient(fwd, g, out, count, [](float x) {
      const float s = sigmoid(x);
      return s * (1.0f + x * (1.0f - s));
    });
  case NonLinearityType::SOFTMAX:
  case NonLinearityType::SOFTMAX_STABLE:
    // d/dx_i = y_i * (g_i - sum_j g_j y_j), per row.
    if (rowLength == 0)
      return;
    for (std::size_t r = 0; r < count / rowLength; ++r) {
      const float *y = fwd + r * rowLength;
      const float *gr = g + r * rowLength;
      float dot = 0.0f;
      for (std::size_t i = 0; i < rowLength; ++i)
        dot += gr[i] * y[i];
      float *o = out + r * rowLength;
      for (std::size_t i = 0; i < rowLength; ++i)
        o[i] = y[i] * (gr[i] - dot);
    }
    return;
  case NonLinearityType::SOFTMAX_SCALED: break;
  }
  throw std::invalid_argument("popnn::nonLinearityInputGradient: SOFTMAX_SCALED is not implemented by the emulator");
}

} // namespace

bool gradientTakesForwardInput(NonLinearityType type) {
  return type == NonLinearityType::GELU || type == NonLinearityType::GELU_ERF || type == NonLinearityType::SWISH;
}

void nonLinearityKernel(NonLinearityType type, const float *in, float *out, std::size_t count, std::size_t rowLength,
                        PartRunner *workers) {
  inBands(count, rowLength, workers, [&](std::size_t offset, std::size_t n) {
    forward(type, in + offset, out + offset, n, rowLength);
  });
}

void nonLinearityGradientKernel(NonLinearityType type, const float *fwd, const float *g, float *out, std::size_t count,
                                std::size_t rowLength, PartRunner *workers) {
  inBands(count, rowLength, workers, [&](std::size_t offset, std::size_t n) {
    gradient(type, fwd + offset, g + offset, out + offset, n, rowLength);
  });
}

} // namespace poplar_emulator
