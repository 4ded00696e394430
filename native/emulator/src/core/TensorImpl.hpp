#pragma once
// How a poplar::Tensor views its variables: its row-major elements are a run of segments, each a
// strided walk through one variable. View ops compose index maps; they never copy elements.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

namespace poplar_emulator {

struct GraphState;

struct Segment {
  std::uint32_t var = 0;
  std::int64_t start = 0;  // element index in the variable of the segment's first element
  std::size_t count = 0;
  std::int64_t stride = 1; // elements between consecutive elements of the segment (0: broadcast)
};

// Element type, shape and segments: everything needed to find a tensor's elements.
struct TensorLayout {
  poplar::Type type;
  std::vector<std::size_t> shape;
  std::vector<Segment> segments;
  std::size_t numElements() const;
};

struct TensorImpl : TensorLayout {
  std::shared_ptr<GraphState> graph;
};

std::size_t product(const std::vector<std::size_t> &shape);
std::string shapeString(const std::vector<std::size_t> &shape);

// Appends a segment, merging it into the last one when it continues it.
void appendSegment(std::vector<Segment> &segments, const Segment &s);

// Calls f(var, index) for every element in row-major order.
template <class F> void forEachElement(const std::vector<Segment> &segments, F &&f) {
  for (const Segment &s : segments)
    for (std::size_t k = 0; k < s.count; ++k)
      f(s.var, static_cast<std::size_t>(s.start + static_cast<std::int64_t>(k) * s.stride));
}

// The tensor of all of variable `var` with the given type and shape.
poplar::Tensor variableTensor(std::shared_ptr<GraphState> graph, std::uint32_t var, const poplar::Type &type,
                              const std::vector<std::size_t> &shape);

} // namespace poplar_emulator
