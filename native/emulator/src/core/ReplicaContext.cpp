#include "core/ReplicaContext.hpp"

#include <cmath>
#include <cstring>
#include <sstream>

#include <poplar/exceptions.hpp>

#include "core/EngineImpl.hpp"
#include "core/Half.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {

ReplicaContext::ReplicaContext(EngineImpl &engine, unsigned replica, std::uint64_t seed)
    : engine_(engine), replica_(replica), rounding_(seed) {}

unsigned ReplicaContext::replicationFactor() const { return engine_.replicationFactor(); }

void ReplicaContext::readRaw(const TensorLayout &t, unsigned char *dst) const {
  std::size_t size = typeInfo(t.type).size;
  for (const Segment &s : t.segments) {
    const unsigned char *base = storage_[s.var].data();
    if (s.stride == 1) {
      std::memcpy(dst, base + static_cast<std::size_t>(s.start) * size, s.count * size);
      dst += s.count * size;
    } else {
      for (std::size_t k = 0; k < s.count; ++k, dst += size)
        std::memcpy(dst, base + static_cast<std::size_t>(s.start + static_cast<std::int64_t>(k) * s.stride) * size, size);
    }
  }
}

void ReplicaContext::writeRaw(const TensorLayout &t, const unsigned char *src) {
  std::size_t size = typeInfo(t.type).size;
  for (const Segment &s : t.segments) {
    unsigned char *base = storage_[s.var].data();
    if (s.stride == 1) {
      std::memcpy(base + static_cast<std::size_t>(s.start) * size, src, s.count * size);
      src += s.count * size;
    } else {
      for (std::size_t k = 0; k < s.count; ++k, src += size)
        std::memcpy(base + static_cast<std::size_t>(s.start + static_cast<std::int64_t>(k) * s.stride) * size, src, size);
    }
  }
}

void ReplicaContext::readFloats(const TensorLayout &t, float *dst) const {
  TypeKind kind = typeInfo(t.type).kind;
  if (kind == TypeKind::Float) { // the storage is the value: whole runs of elements at a time
    readRaw(t, reinterpret_cast<unsigned char *>(dst));
    return;
  }
  bool half = kind == TypeKind::Half;
  std::size_t i = 0;
  forEachElement(t.segments, [&](std::uint32_t v, std::size_t index) {
    const unsigned char *p = storage_[v].data();
    if (half) {
      std::uint16_t h;
      std::memcpy(&h, p + index * 2, 2);
      dst[i++] = halfToFloat(h);
    } else {
      std::memcpy(&dst[i++], p + index * 4, 4);
    }
  });
}

float *ReplicaContext::directFloats(const TensorLayout &t) {
  if (typeInfo(t.type).kind != TypeKind::Float) return nullptr;
  if (t.segments.size() != 1 || (t.segments[0].count > 1 && t.segments[0].stride != 1)) return nullptr;
  const Segment &s = t.segments[0];
  return reinterpret_cast<float *>(storage_[s.var].data()) + s.start;
}

void ReplicaContext::raise(const TensorLayout &t, const std::string &op, const char *what, std::size_t element,
                           float value) const {
  std::ostringstream os;
  std::string var = t.segments.empty() ? std::string("?") : engine_.graph().vars[t.segments[0].var].name;
  os << "floating-point exception (" << what << ") in op '" << op << "' on replica " << replica_ << ": tensor '" << var
     << "' " << typeInfo(t.type).name << shapeString(t.shape) << " element " << element << " = " << value;
  throw poplar::application_runtime_error(os.str());
}

void ReplicaContext::checkFloats(const TensorLayout &t, const float *values, const std::string &op) const {
  if (!fp.oflo && !fp.inv) return;
  std::size_t n = t.numElements();
  for (std::size_t i = 0; i < n; ++i) {
    if (fp.inv && std::isnan(values[i])) raise(t, op, "invalid operation: NaN", i, values[i]);
    if (fp.oflo && std::isinf(values[i])) raise(t, op, "overflow", i, values[i]);
  }
}

void ReplicaContext::writeFloats(const TensorLayout &t, const float *src, const std::string &op) {
  if (typeInfo(t.type).kind == TypeKind::Float) {
    checkFloats(t, src, op);
    writeRaw(t, reinterpret_cast<const unsigned char *>(src));
    return;
  }
  std::size_t i = 0;
  forEachElement(t.segments, [&](std::uint32_t v, std::size_t index) {
    float x = src[i];
    if (fp.inv && std::isnan(x)) raise(t, op, "invalid operation: NaN", i, x);
    std::uint16_t h = fp.esr ? floatToHalfStochastic(x, rounding_()) : floatToHalfRne(x);
    if ((h & 0x7fffu) == 0x7c00u) { // rounded to infinity
      if (fp.oflo) raise(t, op, std::isinf(x) ? "overflow" : "overflow: past the half range", i, x);
      if (std::isfinite(x)) h = static_cast<std::uint16_t>((h & 0x8000u) | (fp.nanoo ? 0x7e00u : 0x7bffu));
    }
    std::memcpy(storage_[v].data() + index * 2, &h, 2);
    ++i;
  });
}

} // namespace poplar_emulator
