#include "kernels/matmul_kernel.h"
#include "op_reference.h"

using namespace poplar_emulator;
using namespace ops_test;

namespace {

struct Case {
  std::size_t groups, m, n, k;
  bool transA, transB, half;
  PartialsKind partials;
};

// Runs one product on random data, padded rows (row strides larger than the rows) and compares
// with a float64 reference computed from the same (half-rounded) inputs.
void checkProduct(std::mt19937_64 &rng, const Case &c, float alpha, float beta) {
  const std::size_t aRows = c.transA ? c.k : c.m, aCols = c.transA ? c.m : c.k;
  const std::size_t bRows = c.transB ? c.n : c.k, bCols = c.transB ? c.k : c.n;
  const std::size_t lda = aCols + randomSize(rng, 0, 3), ldb = bCols + randomSize(rng, 0, 3);
  const std::size_t ldc = c.n + randomSize(rng, 0, 3);
  const std::vector<float> a = randomValues(rng, c.groups * aRows * lda, -1, 1, c.half);
  const std::vector<float> b = randomValues(rng, c.groups * bRows * ldb, -1, 1, c.half);
  std::vector<float> out = randomValues(rng, c.groups * c.m * ldc, -1, 1, c.half);
  const std::vector<float> before = out;
  groupedMatMul(c.groups, c.m, c.n, c.k, {a.data(), lda, aRows * lda, c.transA}, {b.data(), ldb, bRows * ldb, c.transB},
                {out.data(), ldc, c.m * ldc}, alpha, beta, c.partials);

  std::vector<float> actual;
  std::vector<double> expected, bound;
  for (std::size_t g = 0; g < c.groups; ++g)
    for (std::size_t i = 0; i < c.m; ++i)
      for (std::size_t j = 0; j < c.n; ++j) {
        double sum = 0, magnitude = 0;
        for (std::size_t p = 0; p < c.k; ++p) {
          const double x = c.transA ? a[g * aRows * lda + p * lda + i] : a[g * aRows * lda + i * lda + p];
          const double y = c.transB ? b[g * bRows * ldb + j * ldb + p] : b[g * bRows * ldb + p * ldb + j];
          sum += x * y;
          magnitude += std::fabs(x * y);
        }
        const double old = before[g * c.m * ldc + i * ldc + j];
        expected.push_back(alpha * sum + beta * old);
        actual.push_back(out[g * c.m * ldc + i * ldc + j]);
        // Float accumulation of k products: at most k roundings of a partial no larger than the sum
        // of magnitudes (the classic gamma_k bound), plus the scaling and the beta term. Half
        // partials add one half rounding per block of kHalfPartialsBlock products and per product
        // block, each of at most that same magnitude.
        double accumulation = (c.k + 2) * kFloatUnit * magnitude;
        if (c.partials == PartialsKind::Half)
          accumulation += 2.0 * (c.k / kHalfPartialsBlock + 1) * kHalfUnit * magnitude;
        bound.push_back(std::fabs(alpha) * accumulation + 2 * kFloatUnit * (std::fabs(alpha * sum) + std::fabs(beta * old)));
      }
  expectWithin(actual, expected, bound,
               "groups " + std::to_string(c.groups) + " m " + std::to_string(c.m) + " n " + std::to_string(c.n) +
                   " k " + std::to_string(c.k) + (c.transA ? " A^T" : "") + (c.transB ? " B^T" : ""));
}

} // namespace

TEST(MatMulKernel, RandomShapesTransposesAndGroupsMatchFloat64) {
  auto rng = testRng();
  for (int trial = 0; trial < 40; ++trial) {
    const Case c{randomSize(rng, 1, 3), randomSize(rng, 1, 40), randomSize(rng, 1, 40), randomSize(rng, 1, 70),
                 trial % 2 == 1, (trial / 2) % 2 == 1, (trial / 4) % 2 == 1, PartialsKind::Float};
    checkProduct(rng, c, 1.0f, 0.0f);
  }
}

TEST(MatMulKernel, AlphaAndBetaAccumulateIntoTheResult) {
  auto rng = testRng();
  checkProduct(rng, {2, 17, 9, 33, false, true, false, PartialsKind::Float}, -0.5f, 1.0f);
  checkProduct(rng, {1, 5, 31, 8, true, false, false, PartialsKind::Float}, 2.0f, 0.25f);
}

TEST(MatMulKernel, HalfPartialsStayWithinTheirBoundAndDifferFromFloatPartials) {
  auto rng = testRng();
  checkProduct(rng, {2, 12, 10, 200, false, false, true, PartialsKind::Half}, 1.0f, 0.0f);
  // 16384 products of 1 * half(0.1): every block of 16 sums to 1.5996 in float, and a half
  // accumulator past 1024 (spacing 1) rounds each addition to a whole number, so the half-partials
  // result drifts far from the float one. It must be exactly what the documented model gives:
  // blocks of kHalfPartialsBlock products summed in float, each added to a half accumulator.
  const std::size_t k = 16384;
  const float tenth = toHalf(0.1f);
  std::vector<float> a(k, 1.0f), b(k, tenth);
  float viaFloat = 0, viaHalf = 0;
  groupedMatMul(1, 1, 1, k, {a.data(), k, k, false}, {b.data(), 1, k, false}, {&viaFloat, 1, 1}, 1, 0,
                PartialsKind::Float);
  groupedMatMul(1, 1, 1, k, {a.data(), k, k, false}, {b.data(), 1, k, false}, {&viaHalf, 1, 1}, 1, 0,
                PartialsKind::Half);
  float model = 0;
  for (std::size_t block = 0; block < k / kHalfPartialsBlock; ++block)
    model = toHalf(model + toHalf(static_cast<float>(kHalfPartialsBlock) * tenth));
  EXPECT_EQ(viaHalf, model);
  EXPECT_NEAR(viaFloat, k * static_cast<double>(tenth), (k + 2) * kFloatUnit * k * tenth);
  EXPECT_GT(std::fabs(viaHalf - viaFloat), 10.0f);
}

TEST(MatMulKernel, EmptyInnerDimensionGivesBetaTimesResult) {
  float out[4] = {1, 2, 3, 4};
  groupedMatMul(1, 2, 2, 0, {nullptr, 1, 0, false}, {nullptr, 2, 0, false}, {out, 2, 4}, 1.0f, 0.5f,
                PartialsKind::Float);
  EXPECT_EQ(out[0], 0.5f);
  EXPECT_EQ(out[3], 2.0f);
}
