#pragma once
// What Graph::addConstant needs to know about a host element type.
#include <cstddef>
#include <type_traits>

namespace poplar_emulator {
struct Access;
} // namespace poplar_emulator

namespace poplar {

struct TypeTraits {
  std::size_t size = 0;

  template <typename T> static TypeTraits make() {
    static_assert(std::is_arithmetic_v<T>, "addConstant needs an arithmetic host type");
    TypeTraits t;
    t.size = sizeof(T);
    t.isIntegral = std::is_integral_v<T>;
    t.isFloat = std::is_floating_point_v<T>;
    t.isSigned = std::is_signed_v<T>;
    return t;
  }
  template <typename T> static constexpr bool isSimpleType() { return std::is_arithmetic_v<T>; }

private:
  // How the emulator reads the host values; the SDK keeps its own fields private too.
  friend struct poplar_emulator::Access;
  bool isIntegral = false;
  bool isFloat = false;
  bool isSigned = false;
};

} // namespace poplar
