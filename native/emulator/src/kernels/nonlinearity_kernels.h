// popnn's non-linearities and their input gradients over contiguous float arrays, computed in float.
// Softmaxes act along the innermost dimension (rows of rowLength elements). Large arrays are split into bands of
// whole rows for the workers, when given; every element's value is the same however they are split.
#pragma once

#include <popnn/NonLinearityDef.hpp>

#include <cstddef>

#include "kernels/part_runner.h"

namespace poplar_emulator {

// out may equal in (the in-place form).
void nonLinearityKernel(popnn::NonLinearityType type, const float *in, float *out, std::size_t count,
                        std::size_t rowLength, PartRunner *workers = nullptr);

// forward is the forward pass's output, except for GELU, GELU_ERF and SWISH, whose gradients are
// functions of the forward pass's input, which is what forward holds for them.
void nonLinearityGradientKernel(popnn::NonLinearityType type, const float *forward, const float *outGradient,
                                float *inGradient, std::size_t count, std::size_t rowLength,
                                PartRunner *workers = nullptr);

// Whether the gradient takes the forward pass's input rather than its output.
bool gradientTakesForwardInput(popnn::NonLinearityType type);

} // namespace poplar_emulator
