#pragma once
// A view of elements of graph variables, as the SDK's poplar::Tensor. Every view op aliases: writing
// through the result writes the variables it views.
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <poplar/ArrayRef.hpp>
#include <poplar/Interval.hpp>
#include <poplar/Type.hpp>

namespace poplar_emulator {
struct Access;
struct TensorImpl;
} // namespace poplar_emulator

namespace poplar {

enum class UpsampleMethod { REPEAT };

class Tensor {
public:
  Tensor();

  Type elementType() const;
  Tensor operator[](std::size_t i) const &;
  Tensor slice(std::size_t begin, std::size_t end, unsigned dimension) const &;
  Tensor slice(std::size_t begin, std::size_t end) const;
  Tensor slice(const Interval &region, unsigned dimension = 0) const;
  Tensor slice(ArrayRef<std::size_t> begin, ArrayRef<std::size_t> end) const;
  std::vector<Tensor> slices(ArrayRef<Interval> intervals, unsigned dimension = 0) const;
  std::vector<Tensor> slices(const std::vector<std::vector<Interval>> &intervals, unsigned dimension = 0) const;
  std::vector<Tensor> slices(const ArrayRef<unsigned> &indices, unsigned dimension = 0) const;
  Tensor index(ArrayRef<std::size_t> indices) const;
  Tensor flatten() const;
  Tensor flatten(unsigned dimBegin, unsigned dimEnd) const;
  Tensor reshape(ArrayRef<std::size_t> shape) const;
  Tensor dimShuffle(ArrayRef<unsigned> permutation) const;
  Tensor dimShufflePartial(ArrayRef<unsigned> source, ArrayRef<unsigned> destination) const;
  Tensor dimRoll(unsigned dimIdx, unsigned newIdx = 0) const;
  Tensor reshapePartial(unsigned beginIndex, unsigned endIndex, ArrayRef<std::size_t> newDims) const;
  Tensor expand(ArrayRef<std::size_t> indices) const;
  Tensor squeeze(ArrayRef<std::size_t> indices) const;
  Tensor transpose() const;
  Tensor subSample(unsigned stride, unsigned dimension) const;
  Tensor upsample(unsigned scale, unsigned dimension, UpsampleMethod method) const;
  Tensor broadcast(unsigned N, unsigned dim) const;
  Tensor reinterpret(const Type &type) const;
  Tensor reverse(unsigned dimension) const;
  std::size_t numElements() const;
  std::size_t dim(unsigned i) const;
  std::vector<std::size_t> shape() const;
  unsigned rank() const;
  bool isContiguous() const;
  bool containsAliases() const;
  bool containsConstant() const;
  bool isParallelWriteable() const;
  std::vector<Interval> getContiguousRegions() const;
  bool intersectsWith(const Tensor &other) const;
  std::string shapeToString() const;
  bool valid() const;

private:
  friend struct poplar_emulator::Access;
  explicit Tensor(std::shared_ptr<const poplar_emulator::TensorImpl> impl);
  const poplar_emulator::TensorImpl &impl() const;
  std::shared_ptr<const poplar_emulator::TensorImpl> impl_;
};

Tensor concat(ArrayRef<Tensor> ts, unsigned dimension = 0);
inline Tensor concat(const Tensor &first, const Tensor &second, unsigned dimension = 0) {
  return concat({first, second}, dimension);
}
Tensor append(const Tensor &first, const Tensor &second, unsigned dimension);
inline Tensor append(const Tensor &first, const Tensor &second) { return append(first, second, 0); }
// Same elements of the same variables in the same order and shape.
bool operator==(const Tensor &a, const Tensor &b);
inline bool operator!=(const Tensor &a, const Tensor &b) { return !(a == b); }

} // namespace poplar
