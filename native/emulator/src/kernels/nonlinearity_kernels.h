// popnn's non-linearities and their input gradients over contiguous float arrays, computed in float.
// Softmaxes act along the innermost dimension (rows of rowLength elements).
#pragma once

#include <popnn/NonLinearityDef.hpp>

#include <cstddef>

namespace poplar_emulator {

// out may equal in (the in-place form).
void nonLinearityKernel(popnn::NonLinearityType type, const float *in, float *out, std::size_t count,
                        std::size_t rowLength);

// forward is the forward pass's output, except for GELU, GELU_ERF and SWISH, whose gradients are
// functions of the forward pass's input, which is what forward holds for them.
void nonLinearityGradientKernel(popnn::NonLinearityType type, const float *forward, const float *outGradient,
                                float *inGradient, std::size_t count, std::size_t rowLength);

// Whether the gradient takes the forward pass's input rather than its output.
bool gradientTakesForwardInput(popnn::NonLinearityType type);

} // namespace poplar_emulator
