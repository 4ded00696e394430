#include "kernels/matmul_kernel.h"

#include "core/Half.hpp"

#include <cblas.h>

#include <algorithm>
#include <vector>

namespace poplar_emulator {
namespace {

CBLAS_TRANSPOSE blasTranspose(const MatrixOperand &operand) {
  return operand.transposed ? CblasTrans : CblasNoTrans;
}

// Pointer to columns [k0, ...) of a (m x k) or rows [k0, ...) of b (k x n), in their stored layout.
const float *lhsColumns(const MatrixOperand &a, std::size_t group, std::size_t k0) {
  const float *base = a.data + group * a.groupStride;
  return a.transposed ? base + k0 * a.rowStride : base + k0;
}

const float *rhsRows(const MatrixOperand &b, std::size_t group, std::size_t k0) {
  const float *base = b.data + group * b.groupStride;
  return b.transposed ? base + k0 : base + k0 * b.rowStride;
}

void floatPartials(std::size_t groups, std::size_t m, std::size_t n, std::size_t k, const MatrixOperand &a,
                   const MatrixOperand &b, const MatrixResult &result, float alpha, float beta) {
  for (std::size_t g = 0; g < groups; ++g) {
    float *c = result.data + g * result.groupStride;
    if (k == 0) {
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j)
          c[i * result.rowStride + j] = beta == 0.0f ? 0.0f : beta * c[i * result.rowStride + j];
      continue;
    }
    cblas_sgemm(CblasRowMajor, blasTranspose(a), blasTranspose(b), static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), alpha, lhsColumns(a, g, 0), static_cast<int>(a.rowStride), rhsRows(b, g, 0),
                static_cast<int>(b.rowStride), beta, c, static_cast<int>(result.rowStride));
  }
}

void halfPartials(std::size_t groups, std::size_t m, std::size_t n, std::size_t k, const MatrixOperand &a,
                  const MatrixOperand &b, const MatrixResult &result, float alpha, float beta) {
  std::vector<float> accumulator(m * n);
  std::vector<float> block(m * n);
  for (std::size_t g = 0; g < groups; ++g) {
    std::fill(accumulator.begin(), accumulator.end(), 0.0f);
    for (std::size_t k0 = 0; k0 < k; k0 += kHalfPartialsBlock) {
      const std::size_t kb = std::min(kHalfPartialsBlock, k - k0);
      cblas_sgemm(CblasRowMajor, blasTranspose(a), blasTranspose(b), static_cast<int>(m), static_cast<int>(n),
                  static_cast<int>(kb), 1.0f, lhsColumns(a, g, k0), static_cast<int>(a.rowStride), rhsRows(b, g, k0),
                  static_cast<int>(b.rowStride), 0.0f, block.data(), static_cast<int>(n));
      for (std::size_t i = 0; i < m * n; ++i)
        accumulator[i] = roundToHalf(accumulator[i] + roundToHalf(block[i]));
    }
    float *c = result.data + g * result.groupStride;
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        float &out = c[i * result.rowStride + j];
        const float scaled = alpha * accumulator[i * n + j];
        out = beta == 0.0f ? scaled : scaled + beta * out;
      }
  }
}

} // namespace

void groupedMatMul(std::size_t groups, std::size_t m, std::size_t n, std::size_t k, const MatrixOperand &a,
                   const MatrixOperand &b, const MatrixResult &result, float alpha, float beta,
                   PartialsKind partials) {
  if (groups == 0 || m == 0 || n == 0)
    return;
  if (partials == PartialsKind::Half)
    halfPartials(groups, m, n, k, a, b, result, alpha, beta);
  else
    floatPartials(groups, m, n, k, a, b, result, alpha, beta);
}

} // namespace poplar_emulator
