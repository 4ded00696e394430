#include "kernels/reduce_kernel.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace poplar_emulator {
namespace {

// Input dimensions with adjacent kept or adjacent reduced dimensions merged; each with the stride
// of its index in the output (0 for a reduced dimension).
struct MergedDims {
  std::vector<std::size_t> size;
  std::vector<std::size_t> outStride;
  std::vector<bool> reduced;
};

MergedDims mergeDims(const ReduceShape &shape) {
  MergedDims merged;
  for (std::size_t d = 0; d < shape.shape.size(); ++d) {
    if (shape.shape[d] == 1)
      continue;
    if (!merged.size.empty() && merged.reduced.back() == shape.reduced[d]) {
      merged.size.back() *= shape.shape[d];
    } else {
      merged.size.push_back(shape.shape[d]);
      merged.reduced.push_back(shape.reduced[d]);
    }
  }
  merged.outStride.assign(merged.size.size(), 0);
  std::size_t stride = 1;
  for (std::size_t d = merged.size.size(); d-- > 0;) {
    if (!merged.reduced[d]) {
      merged.outStride[d] = stride;
      stride *= merged.size[d];
    }
  }
  return merged;
}

// step folds one input element into an accumulator; combine folds in another accumulator (a block's partial).
struct AddOp {
  static float identity() { return 0.0f; }
  static float step(float acc, float x) { return acc + x; }
  static float combine(float a, float b) { return a + b; }
};
struct SquareAddOp {
  static float identity() { return 0.0f; }
  static float step(float acc, float x) { return acc + x * x; }
  static float combine(float a, float b) { return a + b; }
};
struct MulOp {
  static float identity() { return 1.0f; }
  static float step(float acc, float x) { return acc * x; }
  static float combine(float a, float b) { return a * b; }
};
// MAX and MIN propagate NaN, so an overflow upstream is not hidden by a reduction.
struct MaxOp {
  static float identity() { return -std::numeric_limits<float>::infinity(); }
  static float step(float acc, float x) { return (x > acc || std::isnan(x)) && !std::isnan(acc) ? x : acc; }
  static float combine(float a, float b) { return step(a, b); }
};
struct MinOp {
  static float identity() { return std::numeric_limits<float>::infinity(); }
  static float step(float acc, float x) { return (x < acc || std::isnan(x)) && !std::isnan(acc) ? x : acc; }
  static float combine(float a, float b) { return step(a, b); }
};
struct LogicalAndOp {
  static float identity() { return 1.0f; }
  static float step(float acc, float x) { return (acc != 0.0f && x != 0.0f) ? 1.0f : 0.0f; }
  static float combine(float a, float b) { return step(a, b); }
};
struct LogicalOrOp {
  static float identity() { return 0.0f; }
  static float step(float acc, float x) { return (acc != 0.0f || x != 0.0f) ? 1.0f : 0.0f; }
  static float combine(float a, float b) { return step(a, b); }
};
// log(exp(acc) + exp(x)) without overflow.
struct LogAddOp {
  static float identity() { return -std::numeric_limits<float>::infinity(); }
  static float step(float acc, float x) {
    const float hi = std::max(acc, x);
    if (std::isinf(hi) && hi < 0)
      return hi;
    return hi + std::log1p(std::exp(std::min(acc, x) - hi));
  }
  static float combine(float a, float b) { return step(a, b); }
};

// Reductions of at least this many elements per result are summed in blocks of kBlock: partials in a fixed order
// that the shape alone decides, so the result does not depend on how many threads share the work.
constexpr std::size_t kBlock = 4096;
constexpr std::size_t kMinBlocked = 2 * kBlock;
// Below this many input elements a part is not worth a thread's wake-up.
constexpr std::size_t kMinPartElements = 1 << 15;

template <class Op> float reduceRun(const float *x, std::size_t n) {
  float a = Op::identity();
  for (std::size_t i = 0; i < n; ++i)
    a = Op::step(a, x[i]);
  return a;
}

template <class Op> float combinePartials(const std::vector<float> &partials) {
  float a = Op::identity();
  for (float p : partials)
    a = Op::combine(a, p);
  return a;
}

// One contiguous run reduced to a value: sequentially when short, else blocked (blocks split over the workers).
template <class Op> float reduceRow(const float *x, std::size_t n, PartRunner *workers, std::size_t parts) {
  if (n < kMinBlocked)
    return reduceRun<Op>(x, n);
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<float> partials(blocks);
  auto band = [&](std::size_t part) {
    const auto [b0, b1] = partRange(blocks, parts, part);
    for (std::size_t b = b0; b < b1; ++b)
      partials[b] = reduceRun<Op>(x + b * kBlock, std::min(kBlock, n - b * kBlock));
  };
  if (parts <= 1 || !workers)
    band(0);
  else
    workers->run(parts, band);
  return combinePartials<Op>(partials);
}

template <class Op>
void accumulate(const float *in, const MergedDims &dims, std::vector<float> &acc, PartRunner *workers) {
  std::fill(acc.begin(), acc.end(), Op::identity());
  const std::size_t rank = dims.size.size();
  if (rank == 0) {
    acc[0] = Op::step(acc[0], in[0]);
    return;
  }
  const std::size_t inner = dims.size[rank - 1];
  const bool innerReduced = dims.reduced[rank - 1];
  std::size_t outer = 1;
  for (std::size_t d = 0; d + 1 < rank; ++d)
    outer *= dims.size[d];
  const std::size_t threads = workers ? workers->threads() : 1;
  const std::size_t parts =
      std::min<std::size_t>(threads, std::max<std::size_t>(1, outer * inner / kMinPartElements));

  if (innerReduced && outer == 1) {
    acc[0] = Op::combine(acc[0], reduceRow<Op>(in, inner, workers, parts));
    return;
  }
  if (innerReduced && dims.outStride.size() == 2 && !dims.reduced[0]) {
    // Rows each reduced to their own output: bands of rows.
    auto band = [&](std::size_t part) {
      const auto [r0, r1] = partRange(outer, parts, part);
      for (std::size_t row = r0; row < r1; ++row)
        acc[row] = Op::combine(acc[row], reduceRow<Op>(in + row * inner, inner, nullptr, 1));
    };
    if (parts <= 1 || outer < parts) band(0);
    else workers->run(parts, band);
    return;
  }
  // Otherwise rows in order, each folded into its outputs; an innermost kept dimension is split into bands of
  // columns (each column keeps its order over the rows).
  const std::size_t columnParts = innerReduced || inner < parts ? 1 : parts;
  auto columns = [&](std::size_t part) {
    const auto [c0, c1] = partRange(innerReduced ? 1 : inner, columnParts, part);
    std::vector<std::size_t> index(rank, 0);
    std::size_t outOffset = 0;
    for (std::size_t row = 0; row < outer; ++row) {
      const float *x = in + row * inner;
      if (innerReduced && inner >= kMinBlocked) {
        acc[outOffset] = Op::combine(acc[outOffset], reduceRow<Op>(x, inner, nullptr, 1));
      } else if (innerReduced) {
        float a = acc[outOffset];
        for (std::size_t i = 0; i < inner; ++i)
          a = Op::step(a, x[i]);
        acc[outOffset] = a;
      } else {
        float *a = acc.data() + outOffset;
        for (std::size_t i = c0; i < c1; ++i)
          a[i] = Op::step(a[i], x[i]);
      }
      // Next row: advance the outer dimensions' index like an odometer.
      for (std::size_t d = rank - 1; d-- > 0;) {
        outOffset += dims.outStride[d];
        if (++index[d] < dims.size[d])
          break;
        outOffset -= dims.outStride[d] * dims.size[d];
        index[d] = 0;
      }
    }
  };
  if (columnParts <= 1) columns(0);
  else workers->run(columnParts, columns);
}

} // namespace

float reduceIdentity(popops::Operation op) {
  switch (op) {
  case popops::Operation::ADD: return AddOp::identity();
  case popops::Operation::SQUARE_ADD: return SquareAddOp::identity();
  case popops::Operation::MUL: return MulOp::identity();
  case popops::Operation::MAX: return MaxOp::identity();
  case popops::Operation::MIN: return MinOp::identity();
  case popops::Operation::LOGICAL_AND: return LogicalAndOp::identity();
  case popops::Operation::LOGICAL_OR: return LogicalOrOp::identity();
  case popops::Operation::LOG_ADD: return LogAddOp::identity();
  }
  return 0.0f;
}

void reduce(popops::Operation op, const float *in, const ReduceShape &shape, float *out, float scale, bool update,
            PartRunner *workers) {
  std::size_t inCount = 1;
  std::size_t outCount = 1;
  for (std::size_t d = 0; d < shape.shape.size(); ++d) {
    inCount *= shape.shape[d];
    if (!shape.reduced[d])
      outCount *= shape.shape[d];
  }
  std::vector<float> acc(outCount);
  if (inCount == 0) {
    std::fill(acc.begin(), acc.end(), reduceIdentity(op));
  } else {
    const MergedDims dims = mergeDims(shape);
    switch (op) {
    case popops::Operation::ADD: accumulate<AddOp>(in, dims, acc, workers); break;
    case popops::Operation::SQUARE_ADD: accumulate<SquareAddOp>(in, dims, acc, workers); break;
    case popops::Operation::MUL: accumulate<MulOp>(in, dims, acc, workers); break;
    case popops::Operation::MAX: accumulate<MaxOp>(in, dims, acc, workers); break;
    case popops::Operation::MIN: accumulate<MinOp>(in, dims, acc, workers); break;
    case popops::Operation::LOGICAL_AND: accumulate<LogicalAndOp>(in, dims, acc, workers); break;
    case popops::Operation::LOGICAL_OR: accumulate<LogicalOrOp>(in, dims, acc, workers); break;
    case popops::Operation::LOG_ADD: accumulate<LogAddOp>(in, dims, acc, workers); break;
    }
  }
  for (std::size_t i = 0; i < outCount; ++i) {
    const float value = scale == 1.0f ? acc[i] : scale * acc[i];
    out[i] = update ? out[i] + value : value;
  }
}

} // namespace poplar_emulator
