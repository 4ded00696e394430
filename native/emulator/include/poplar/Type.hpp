#pragma once
// Element types of device tensors, as the SDK's poplar::Type.
#include <cstdint>
#include <ostream>

#include <poplar/StringRef.hpp>

namespace poplar_emulator {
struct TypeInfo;
struct Access;
} // namespace poplar_emulator

namespace poplar {

class Type {
public:
  Type() = default;
  StringRef toString() const;
  bool isFloatingPoint() const;
  bool operator==(const Type &other) const { return info_ == other.info_; }
  bool operator!=(const Type &other) const { return info_ != other.info_; }
  bool operator<(const Type &other) const { return info_ < other.info_; }

private:
  friend struct poplar_emulator::Access;
  const poplar_emulator::TypeInfo *info_ = nullptr;
};

inline std::ostream &operator<<(std::ostream &os, const Type &t) { return os << t.toString(); }

extern Type BOOL;
extern Type CHAR;
extern Type UNSIGNED_CHAR;
extern Type SIGNED_CHAR;
extern Type UNSIGNED_SHORT;
extern Type SHORT;
extern Type UNSIGNED_INT;
extern Type INT;
extern Type UNSIGNED_LONG;
extern Type LONG;
extern Type UNSIGNED_LONGLONG;
extern Type LONGLONG;
extern Type QUARTER;
extern Type QUARTER_METADATA;
extern Type HALF;
extern Type FLOAT;

// The device type that holds a host type T (half has no host type: use HALF with uint16_t data).
template <typename T> struct equivalent_device_type {};
template <> struct equivalent_device_type<bool> { const Type &value = BOOL; };
template <> struct equivalent_device_type<char> { const Type &value = CHAR; };
template <> struct equivalent_device_type<unsigned char> { const Type &value = UNSIGNED_CHAR; };
template <> struct equivalent_device_type<signed char> { const Type &value = SIGNED_CHAR; };
template <> struct equivalent_device_type<unsigned short> { const Type &value = UNSIGNED_SHORT; };
template <> struct equivalent_device_type<short> { const Type &value = SHORT; };
template <> struct equivalent_device_type<unsigned int> { const Type &value = UNSIGNED_INT; };
template <> struct equivalent_device_type<int> { const Type &value = INT; };
template <> struct equivalent_device_type<unsigned long> { const Type &value = UNSIGNED_LONG; };
template <> struct equivalent_device_type<long> { const Type &value = LONG; };
template <> struct equivalent_device_type<unsigned long long> { const Type &value = UNSIGNED_LONGLONG; };
template <> struct equivalent_device_type<long long> { const Type &value = LONGLONG; };
template <> struct equivalent_device_type<float> { const Type &value = FLOAT; };

} // namespace poplar
