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

struct AddOp {
  static float identity() { return 0.0f; }
  static float step(float acc, float x) { return acc + x; }
};
struct SquareAddOp {
  static float identity() { return 0.0f; }
  static float step(float acc, float x) { return acc + x * x; }
};
struct MulOp {
  static float identity() { return 1.0f; }
  static float step(float acc, float x) { return acc * x; }
};
// MAX and MIN propagate NaN, so an overflow upstream is not hidden by a reduction.
struct MaxOp {
  static float identity() { return -std::numeric_limits<float>::infinity(); }
  static float step(float acc, float x) { return (x > acc || std::isnan(x)) && !std::isnan(acc) ? x : acc; }
};
struct MinOp {
  static float identity() { return std::numeric_limits<float>::infinity(); }
  static float step(float acc, float x) { return (x < acc || std::isnan(x)) && !std::isnan(acc) ? x : acc; }
};
struct LogicalAndOp {
  static float identity() { return 1.0f; }
  static float step(float acc, float x) { return (acc != 0.0f && x != 0.0f) ? 1.0f : 0.0f; }
};
struct LogicalOrOp {
  static float identity() { return 0.0f; }
  static float step(float acc, float x) { return (acc != 0.0f || x != 0.0f) ? 1.0f : 0.0f; }
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
};

template <class Op>
void accumulate(const float *in, const MergedDims &dims, std::vector<float> &acc) {
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
  std::vector<std::size_t> index(rank, 0);
  std::size_t outOffset = 0;
  for (std::size_t row = 0; row < outer; ++row) {
    const float *x = in + row * inner;
    if (innerReduced) {
      float a = acc[outOffset];
      for (std::size_t i = 0; i < inner; ++i)
        a = Op::step(a, x[i]);
      acc[outOffset] = a;
    } else {
      float *a = acc.data() + outOffset;
      for (std::size_t i = 0; i < inner; ++i)
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

void reduce(popops::Operation op, const float *in, const ReduceShape &shape, float *out, float scale, bool update) {
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
    case popops::Operation::ADD: accumulate<AddOp>(in, dims, acc); break;
    case popops::Operation::SQUARE_ADD: accumulate<SquareAddOp>(in, dims, acc); break;
    case popops::Operation::MUL: accumulate<MulOp>(in, dims, acc); break;
    case popops::Operation::MAX: accumulate<MaxOp>(in, dims, acc); break;
    case popops::Operation::MIN: accumulate<MinOp>(in, dims, acc); break;
    case popops::Operation::LOGICAL_AND: accumulate<LogicalAndOp>(in, dims, acc); break;
    case popops::Operation::LOGICAL_OR: accumulate<LogicalOrOp>(in, dims, acc); break;
    case popops::Operation::LOG_ADD: accumulate<LogAddOp>(in, dims, acc); break;
    }
  }
  for (std::size_t i = 0; i < outCount; ++i) {
    const float value = scale == 1.0f ? acc[i] : scale * acc[i];
    out[i] = update ? out[i] + value : value;
  }
}

} // namespace poplar_emulator
