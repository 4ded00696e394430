#pragma once
// What Graph::addConstant needs to know about a host element type.
#include <cstddef>
#include <type_traits>

namespace poplar {

struct TypeTraits {
  std::size_t size = 0;
  std::size_t align = 0;
  bool isIntegral = false;
  bool isFloat = false;
  bool isSigned = false;

  template <typename T> static TypeTraits make() {
    static_assert(std::is_arithmetic_v<T>, "addConstant needs an arithmetic host type");
    TypeTraits t;
    t.size = sizeof(T);
    t.align = alignof(T);
    t.isIntegral = std::is_integral_v<T>;
    t.isFloat = std::is_floating_point_v<T>;
    t.isSigned = std::is_signed_v<T>;
    return t;
  }
};

} // namespace poplar
