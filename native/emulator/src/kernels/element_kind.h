// The element types the emulator's kernels compute on, and how each is held in a kernel's arrays:
// FLOAT and HALF as float (HALF values already rounded to binary16), INT as int32_t,
// UNSIGNED_INT as uint32_t, BOOL as one byte holding 0 or 1.
#pragma once

#include <cstddef>
#include <cstdint>

namespace poplar_emulator {

enum class ElementKind { Float, Half, Int, UnsignedInt, Bool };

inline bool isFloating(ElementKind kind) { return kind == ElementKind::Float || kind == ElementKind::Half; }

inline const char *elementKindName(ElementKind kind) {
  switch (kind) {
  case ElementKind::Float: return "float";
  case ElementKind::Half: return "half";
  case ElementKind::Int: return "int";
  case ElementKind::UnsignedInt: return "unsigned int";
  case ElementKind::Bool: return "bool";
  }
  return "?";
}

} // namespace poplar_emulator
