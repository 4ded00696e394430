#include "core/HostValues.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/Half.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {
namespace {

template <class T> T loadRaw(const unsigned char *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> void storeRaw(unsigned char *p, T v) { std::memcpy(p, &v, sizeof v); }

double loadHost(const unsigned char *p, const poplar::TypeTraits &t) {
  if (Access::isFloat(t)) return t.size == 4 ? loadRaw<float>(p) : t.size == 8 ? loadRaw<double>(p) : static_cast<double>(loadRaw<long double>(p));
  if (t.size == 1) return Access::isSigned(t) ? loadRaw<std::int8_t>(p) : loadRaw<std::uint8_t>(p);
  if (t.size == 2) return Access::isSigned(t) ? loadRaw<std::int16_t>(p) : loadRaw<std::uint16_t>(p);
  if (t.size == 4) return Access::isSigned(t) ? loadRaw<std::int32_t>(p) : loadRaw<std::uint32_t>(p);
  if (t.size == 8) return Access::isSigned(t) ? static_cast<double>(loadRaw<std::int64_t>(p)) : static_cast<double>(loadRaw<std::uint64_t>(p));
  throw poplar::poplar_error("unsupported host element type for a constant");
}

} // namespace

double loadAsDouble(const unsigned char *p, const poplar::Type &type) {
  const TypeInfo &ti = typeInfo(type);
  switch (ti.kind) {
  case TypeKind::Float: return loadRaw<float>(p);
  case TypeKind::Half: return halfToFloat(loadRaw<std::uint16_t>(p));
  case TypeKind::Bool: return *p ? 1.0 : 0.0;
  case TypeKind::Quarter: return *p;
  case TypeKind::Signed:
    if (ti.size == 1) return loadRaw<std::int8_t>(p);
    if (ti.size == 2) return loadRaw<std::int16_t>(p);
    if (ti.size == 4) return loadRaw<std::int32_t>(p);
    return static_cast<double>(loadRaw<std::int64_t>(p));
  case TypeKind::Unsigned:
    if (ti.size == 1) return loadRaw<std::uint8_t>(p);
    if (ti.size == 2) return loadRaw<std::uint16_t>(p);
    if (ti.size == 4) return loadRaw<std::uint32_t>(p);
    return static_cast<double>(loadRaw<std::uint64_t>(p));
  }
  return 0;
}

void storeFromDouble(unsigned char *p, const poplar::Type &type, double v) {
  const TypeInfo &ti = typeInfo(type);
  switch (ti.kind) {
  case TypeKind::Float: storeRaw(p, static_cast<float>(v)); return;
  case TypeKind::Half: storeRaw(p, floatToHalfRne(static_cast<float>(v))); return;
  case TypeKind::Bool: *p = v != 0 ? 1 : 0; return;
  case TypeKind::Quarter: *p = static_cast<unsigned char>(v); return;
  case TypeKind::Signed:
    if (ti.size == 1) storeRaw(p, static_cast<std::int8_t>(v));
    else if (ti.size == 2) storeRaw(p, static_cast<std::int16_t>(v));
    else if (ti.size == 4) storeRaw(p, static_cast<std::int32_t>(v));
    else storeRaw(p, static_cast<std::int64_t>(v));
    return;
  case TypeKind::Unsigned:
    if (ti.size == 1) storeRaw(p, static_cast<std::uint8_t>(v));
    else if (ti.size == 2) storeRaw(p, static_cast<std::uint16_t>(v));
    else if (ti.size == 4) storeRaw(p, static_cast<std::uint32_t>(v));
    else storeRaw(p, static_cast<std::uint64_t>(v));
    return;
  }
}

std::vector<unsigned char> toDeviceFormat(const void *src, const poplar::TypeTraits &traits, std::size_t count,
                                          const poplar::Type &type, std::size_t n) {
  std::size_t size = typeInfo(type).size;
  std::vector<unsigned char> out(n * size);
  if (n == 0) return out;
  if (count == 0 || src == nullptr) throw poplar::poplar_error("a constant or initial value needs at least one host value");
  const unsigned char *in = static_cast<const unsigned char *>(src);
  for (std::size_t i = 0; i < n; ++i) {
    // 64-bit integers go through double only when they fit its 53-bit mantissa; copy them exactly.
    const unsigned char *hp = in + (i % count) * traits.size;
    if (Access::isIntegral(traits) && traits.size == 8 && size == 8 && !type.isFloatingPoint()) {
      std::memcpy(out.data() + i * size, hp, 8);
    } else {
      storeFromDouble(out.data() + i * size, type, loadHost(hp, traits));
    }
  }
  return out;
}

} // namespace poplar_emulator
