// Grouped matrix products over float arrays, through OpenBLAS.
#pragma once

#include <cstddef>

namespace poplar_emulator {

// One operand of a product: group g's matrix starts at data + g * groupStride, rows are rowStride
// floats apart. A transposed operand is stored as the transpose of the matrix the product uses.
struct MatrixOperand {
  const float *data = nullptr;
  std::size_t rowStride = 0;
  std::size_t groupStride = 0;
  bool transposed = false;
};

struct MatrixResult {
  float *data = nullptr;
  std::size_t rowStride = 0;
  std::size_t groupStride = 0;
};

// Whether partial sums are kept in float or rounded to half, as poplin's partialsType option says.
enum class PartialsKind { Float, Half };

// With half partials, this many products are summed in float before the sum is added to the
// half accumulator and rounded: the emulator's model of the AMP's half-precision accumulation.
constexpr std::size_t kHalfPartialsBlock = 16;

// Below this many flops a product runs on the calling thread; a band split over workers is at least kMinBand
// rows or columns wide.
constexpr double kMinSplitFlops = 1 << 21;
constexpr std::size_t kMinBand = 16;

class PartRunner;

// result[g] = alpha * a[g] (m x k) * b[g] (k x n) + beta * result[g], for g in [0, groups), split over the workers
// when given (null: on the calling thread).
void groupedMatMul(std::size_t groups, std::size_t m, std::size_t n, std::size_t k, const MatrixOperand &a,
                   const MatrixOperand &b, const MatrixResult &result, float alpha, float beta,
                   PartialsKind partials, PartRunner *workers = nullptr);

} // namespace poplar_emulator
