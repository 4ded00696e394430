// Reductions of a contiguous float array over a set of its dimensions, with float intermediates.
#pragma once

#include <popops/OperationDef.hpp>

#include <cstddef>
#include <vector>

#include "kernels/part_runner.h"

namespace poplar_emulator {

struct ReduceShape {
  std::vector<std::size_t> shape;  // of the input, row-major
  std::vector<bool> reduced;       // per input dimension: whether it is reduced away
};

// out has one element per combination of the kept dimensions, in their order. Each is
// scale * op(inputs it covers), added to out's old value when update is set (ADD and SQUARE_ADD
// only; the caller checks). An empty reduction gives the operation's identity. The work is split over the
// workers when given; the result is the same however many threads they have.
void reduce(popops::Operation op, const float *in, const ReduceShape &shape, float *out, float scale, bool update,
            PartRunner *workers = nullptr);

// The value an empty reduction gives.
float reduceIdentity(popops::Operation op);

} // namespace poplar_emulator
