#include "kernels/reduce_kernel.h"
#include "op_reference.h"

#include <limits>

using namespace poplar_emulator;
using namespace ops_test;
using popops::Operation;

namespace {

// float64 reference over the same dimensions, plus the sum of magnitudes each output covers.
void referenceReduce(Operation op, const std::vector<float> &in, const ReduceShape &shape, std::vector<double> &out,
                     std::vector<double> &magnitude, std::vector<std::size_t> &count) {
  const std::size_t rank = shape.shape.size();
  std::size_t outCount = 1;
  for (std::size_t d = 0; d < rank; ++d)
    if (!shape.reduced[d])
      outCount *= shape.shape[d];
  const double identity = op == Operation::MUL ? 1.0 : op == Operation::MAX ? -INFINITY : op == Operation::MIN ? INFINITY : 0.0;
  out.assign(outCount, identity);
  magnitude.assign(outCount, 0.0);
  count.assign(outCount, 0);
  std::vector<std::size_t> index(rank, 0);
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::size_t o = 0;
    for (std::size_t d = 0; d < rank; ++d)
      if (!shape.reduced[d])
        o = o * shape.shape[d] + index[d];
    const double x = in[i];
    switch (op) {
    case Operation::ADD: out[o] += x; magnitude[o] += std::fabs(x); break;
    case Operation::SQUARE_ADD: out[o] += x * x; magnitude[o] += x * x; break;
    case Operation::MUL: out[o] *= x; break;
    case Operation::MAX: out[o] = std::max(out[o], x); break;
    case Operation::MIN: out[o] = std::min(out[o], x); break;
    default: break;
    }
    ++count[o];
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < shape.shape[d])
        break;
      index[d] = 0;
    }
  }
}

} // namespace

TEST(ReduceKernel, RandomShapesAndDimensionSetsMatchFloat64) {
  auto rng = testRng();
  const Operation ops[] = {Operation::ADD, Operation::SQUARE_ADD, Operation::MUL, Operation::MAX, Operation::MIN};
  for (int trial = 0; trial < 60; ++trial) {
    const Operation op = ops[trial % 5];
    ReduceShape shape;
    shape.shape = randomShape(rng, randomSize(rng, 1, 4), 9);
    for (std::size_t d = 0; d < shape.shape.size(); ++d)
      shape.reduced.push_back(randomSize(rng, 0, 1) == 1);
    // MUL of many values in [-1, 1] underflows towards 0; values near 1 keep the product meaningful.
    const std::vector<float> in = op == Operation::MUL ? randomValues(rng, elementCount(shape.shape), 0.9f, 1.1f, false)
                                                       : randomValues(rng, elementCount(shape.shape), -4, 4, trial % 2 == 0);
    std::vector<double> expected, magnitude;
    std::vector<std::size_t> count;
    referenceReduce(op, in, shape, expected, magnitude, count);
    std::vector<float> out(expected.size());
    const float scale = trial % 3 == 0 ? 0.5f : 1.0f;
    reduce(op, in.data(), shape, out.data(), scale, false);
    std::vector<double> bound(expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      expected[i] *= scale;
      // Sequential float accumulation of count terms: count roundings of partials no larger than
      // the sum of magnitudes (products: count relative roundings of the product); MAX and MIN are exact.
      const double terms = static_cast<double>(count[i]) + 1;
      bound[i] = op == Operation::MUL ? terms * kFloatUnit * std::fabs(expected[i]) * 1.01
                 : (op == Operation::MAX || op == Operation::MIN) ? 0.0
                                                                  : terms * kFloatUnit * magnitude[i] * scale;
    }
    expectWithin(out, expected, bound, "trial " + std::to_string(trial));
  }
}

TEST(ReduceKernel, UpdateAddsToTheOutputAndEmptyReductionsGiveIdentities) {
  const std::vector<float> in = {1, 2, 3, 4, 5, 6};
  float out[2] = {10, 20};
  reduce(Operation::ADD, in.data(), {{2, 3}, {false, true}}, out, 2.0f, true);
  EXPECT_EQ(out[0], 10 + 2 * 6.0f);
  EXPECT_EQ(out[1], 20 + 2 * 15.0f);
  float empty[3] = {7, 7, 7};
  reduce(Operation::MAX, nullptr, {{3, 0}, {false, true}}, empty, 1.0f, false);
  EXPECT_EQ(empty[0], -std::numeric_limits<float>::infinity());
  reduce(Operation::MUL, nullptr, {{3, 0}, {false, true}}, empty, 1.0f, false);
  EXPECT_EQ(empty[2], 1.0f);
}

TEST(ReduceKernel, MaxPropagatesNaNAndLogicalOpsSeeNonZeroAsTrue) {
  const std::vector<float> in = {1, NAN, 3, 0, 2, 0};
  float out[2];
  reduce(Operation::MAX, in.data(), {{2, 3}, {false, true}}, out, 1.0f, false);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], 2.0f);
  reduce(Operation::LOGICAL_AND, in.data(), {{2, 3}, {false, true}}, out, 1.0f, false);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 0.0f);
  float columns[3];
  reduce(Operation::LOGICAL_OR, in.data(), {{2, 3}, {true, false}}, columns, 1.0f, false);
  EXPECT_EQ(columns[0], 1.0f);  // 1 or 0
  EXPECT_EQ(columns[1], 1.0f);  // NaN is non-zero
  EXPECT_EQ(columns[2], 1.0f);  // 3 or 0
}

TEST(ReduceKernel, LogAddIsLogOfSumOfExponentials) {
  const std::vector<float> in = {0.5f, -1.0f, 2.0f, 100.0f, 100.0f, -INFINITY};
  float out[2];
  reduce(Operation::LOG_ADD, in.data(), {{2, 3}, {false, true}}, out, 1.0f, false);
  // Three terms, each step one log1p/exp rounding of a value below 3: a few float units.
  EXPECT_NEAR(out[0], std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0)), 8 * kFloatUnit * 3);
  EXPECT_NEAR(out[1], 100.0 + std::log(2.0), 8 * kFloatUnit * 101);
}
