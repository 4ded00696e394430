// C callers may pass any integer in an enum-typed field; loading such a value as the C++ enum type is
// undefined behaviour (UBSan flags it). Validation therefore reads the raw integer first.
#pragma once

#include <cstdint>
#include <cstring>

namespace ft5::abi {

template <typename E>
int32_t enum_value(const E& value) noexcept {
    static_assert(sizeof(E) == sizeof(int32_t), "ft5 enums are int-sized");
    int32_t raw;
    std::memcpy(&raw, &value, sizeof raw);
    return raw;
}

}  // namespace ft5::abi
