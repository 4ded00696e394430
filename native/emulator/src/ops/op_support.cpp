#include "ops/op_support.h"

#include "core/TypeInfo.hpp"

#include <poplar/exceptions.hpp>
#include <poputil/TileMapping.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace poplar_emulator {

std::string opName(const poplar::DebugContext &debugContext, const char *op) {
  const std::string path = debugContext.getPathName();
  return path.empty() ? std::string(op) : path + " (" + op + ")";
}

void opError(const std::string &op, const std::string &message) { throw poplar::poplar_error(op + ": " + message); }

ElementKind elementKindOf(const poplar::Type &type, const std::string &op, const std::string &what) {
  const TypeInfo &info = typeInfo(type, what.c_str());
  switch (info.kind) {
  case TypeKind::Float: return ElementKind::Float;
  case TypeKind::Half: return ElementKind::Half;
  case TypeKind::Bool: return ElementKind::Bool;
  case TypeKind::Signed:
    if (info.size == 4)
      return ElementKind::Int;
    break;
  case TypeKind::Unsigned:
    if (info.size == 4)
      return ElementKind::UnsignedInt;
    break;
  default: break;
  }
  opError(op, what + " has type " + std::string(info.name) +
                  "; the emulator's ops take float, half, int, unsigned int and bool");
}

poplar::Type typeOfKind(ElementKind kind) {
  switch (kind) {
  case ElementKind::Float: return poplar::FLOAT;
  case ElementKind::Half: return poplar::HALF;
  case ElementKind::Int: return poplar::INT;
  case ElementKind::UnsignedInt: return poplar::UNSIGNED_INT;
  case ElementKind::Bool: return poplar::BOOL;
  }
  return poplar::FLOAT;
}

std::string shapeString(const std::vector<std::size_t> &shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

poplar::Tensor createResult(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                            const poplar::DebugContext &debugContext, const std::string &name) {
  poplar::Tensor t = graph.addVariable(type, shape, {debugContext, name});
  poputil::mapTensorLinearly(graph, t);
  return t;
}

poplar::Tensor createResultLike(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                                const std::vector<poplar::Tensor> &like, const poplar::DebugContext &debugContext,
                                const std::string &name) {
  for (const poplar::Tensor &t : like)
    if (t.valid() && t.shape() == shape)
      return graph.clone(type, t, {debugContext, name});
  return createResult(graph, type, shape, debugContext, name);
}

MapInput mapInputOf(const KernelArray &array, ElementKind kind) {
  MapInput input;
  input.data = isFloating(kind) ? static_cast<const void *>(array.floats) : array.raw;
  input.kind = kind;
  input.shape = array.shape;
  return input;
}

MapOutput mapOutputOf(KernelArray &array, ElementKind kind) {
  MapOutput output;
  output.data = isFloating(kind) ? static_cast<void *>(array.floats) : array.raw;
  output.kind = kind;
  return output;
}

std::vector<std::size_t> offsetsOf(const KernelArray &array, const std::string &op) {
  std::vector<std::size_t> offsets(array.numElements);
  if (array.type == poplar::UNSIGNED_INT) {
    const unsigned *v = array.as<unsigned>();
    std::copy(v, v + array.numElements, offsets.begin());
  } else if (array.type == poplar::INT) {
    const int *v = array.as<int>();
    // A negative offset is out of range: as large as an offset can be, so it wraps or is skipped.
    for (std::size_t i = 0; i < array.numElements; ++i)
      offsets[i] = v[i] < 0 ? static_cast<std::size_t>(static_cast<unsigned>(v[i])) : static_cast<std::size_t>(v[i]);
  } else {
    opError(op, "offsets must be unsigned int or int");
  }
  return offsets;
}

float scalarOf(const KernelArray &array, const std::string &op, const char *what) {
  if (array.floats == nullptr || array.numElements != 1)
    opError(op, std::string(what) + " must be one float or half value");
  return array.floats[0];
}

void checkScalar(const poplar::Tensor &t, const std::string &op, const char *what) {
  if (!t.valid())
    opError(op, std::string(what) + " is not a tensor");
  if (t.numElements() != 1)
    opError(op, std::string(what) + " must have one element, not " + std::to_string(t.numElements()) + " (shape " +
                    shapeString(t.shape()) + ")");
  if (t.elementType() != poplar::FLOAT && t.elementType() != poplar::HALF)
    opError(op, std::string(what) + " must be float or half");
}

OptionReader::OptionReader(const poplar::OptionFlags &options, const std::string &op, std::vector<std::string> known)
    : options_(options), op_(op) {
  for (const auto &entry : options)
    if (std::find(known.begin(), known.end(), entry.first) == known.end()) {
      std::string list;
      for (const std::string &k : known)
        list += (list.empty() ? "" : ", ") + k;
      opError(op, "unknown option \"" + entry.first + "\" (known: " + (list.empty() ? "none" : list) + ")");
    }
}

std::string OptionReader::get(const std::string &option, const std::string &fallback) const {
  for (const auto &entry : options_)
    if (entry.first == option)
      return entry.second;
  return fallback;
}

double OptionReader::getNumber(const std::string &option, double fallback, double lo, double hi) const {
  const std::string text = get(option, "");
  if (text.empty())
    return fallback;
  char *end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(value) || value <= lo || value > hi)
    opError(op_, "option " + option + " is \"" + text + "\"; expected a number in (" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return value;
}

} // namespace poplar_emulator
