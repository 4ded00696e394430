#include "kernels/matmul_kernel.h"

#include "core/Half.hpp"
#include "kernels/part_runner.h"

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

// The product split into independent parts for the host workers: whole groups when there are enough of them (each
// group's values are those of one call), else one band of rows or of columns of every group's result per thread.
void groupedMatMul(std::size_t groups, std::size_t m, std::size_t n, std::size_t k, const MatrixOperand &a,
                   const MatrixOperand &b, const MatrixResult &result, float alpha, float beta,
                   PartialsKind partials, PartRunner *workers) {
  if (groups == 0 || m == 0 || n == 0)
    return;
  auto serial = [&](std::size_t g, std::size_t mm, std::size_t nn, const MatrixOperand &pa, const MatrixOperand &pb,
                    const MatrixResult &pc) {
    if (partials == PartialsKind::Half)
      halfPartials(g, mm, nn, k, pa, pb, pc, alpha, beta);
    else
      floatPartials(g, mm, nn, k, pa, pb, pc, alpha, beta);
  };
  const double flops = 2.0 * static_cast<double>(groups) * static_cast<double>(m * n) * static_cast<double>(std::max<std::size_t>(k, 1));
  const std::size_t threads = workers ? workers->threads() : 1;
  if (threads == 1 || flops < kMinSplitFlops) {
    serial(groups, m, n, a, b, result);
    return;
  }
  if (groups >= threads) {
    workers->run(threads, [&](std::size_t part) {
      const auto [g0, g1] = partRange(groups, threads, part);
      MatrixOperand pa = a, pb = b;
      pa.data += g0 * a.groupStride;
      pb.data += g0 * b.groupStride;
      MatrixResult pc = result;
      pc.data += g0 * result.groupStride;
      serial(g1 - g0, m, n, pa, pb, pc);
    });
    return;
  }
  // Bands of the longer side: each part then re-reads (and OpenBLAS re-packs) only the smaller operand.
  const bool rows = m >= n;
  const std::size_t length = rows ? m : n;
  const std::size_t parts = std::min<std::size_t>(threads, std::max<std::size_t>(1, length / kMinBand));
  workers->run(parts, [&](std::size_t part) {
    const auto [i0, i1] = partRange(length, parts, part);
    MatrixOperand pa = a, pb = b;
    MatrixResult pc = result;
    if (rows) {
      pa.data += a.transposed ? i0 : i0 * a.rowStride;
      pc.data += i0 * result.rowStride;
      serial(groups, i1 - i0, n, pa, pb, pc);
    } else {
      pb.data += b.transposed ? i0 * b.rowStride : i0;
      pc.data += i0;
      serial(groups, m, i1 - i0, pa, pb, pc);
    }
  });
}

} // namespace poplar_emulator
