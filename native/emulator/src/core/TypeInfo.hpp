#pragma once
// What the emulator knows about each poplar::Type: its size and how its elements are held on the host.
#include <cstddef>

#include <poplar/Type.hpp>

namespace poplar_emulator {

enum class TypeKind { Float, Half, Signed, Unsigned, Bool, Quarter };

struct TypeInfo {
  const char *name;
  std::size_t size;
  TypeKind kind;
};

// The info of a valid type; throws poplar::poplar_error naming `what` for a default-constructed Type.
const TypeInfo &typeInfo(const poplar::Type &type, const char *what = "tensor");
inline std::size_t typeSize(const poplar::Type &type) { return typeInfo(type).size; }
// FLOAT and HALF reach kernels as float; every other type in its own representation.
inline bool isFloatKernelType(const poplar::Type &type) {
  TypeKind k = typeInfo(type).kind;
  return k == TypeKind::Float || k == TypeKind::Half;
}

} // namespace poplar_emulator
