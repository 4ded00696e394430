#pragma once
// Converts host values of any arithmetic type into a device type's host format (HALF: binary16, RNE).
#include <cstddef>
#include <vector>

#include <poplar/Type.hpp>
#include <poplar/TypeTraits.hpp>

namespace poplar_emulator {

// count host values of `traits` at src become n elements of `type` (src repeats when count < n).
std::vector<unsigned char> toDeviceFormat(const void *src, const poplar::TypeTraits &traits, std::size_t count,
                                          const poplar::Type &type, std::size_t n);

// One element of `type` (host format) read as double / written from double.
double loadAsDouble(const unsigned char *p, const poplar::Type &type);
void storeFromDouble(unsigned char *p, const poplar::Type &type, double v);

} // namespace poplar_emulator
