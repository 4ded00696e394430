#include <algorithm>
#include <numeric>
#include <sstream>

#include <poplar/Tensor.hpp>
#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/GraphState.hpp"
#include "core/TensorImpl.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {

std::size_t TensorLayout::numElements() const { return product(shape); }

std::size_t product(const std::vector<std::size_t> &shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

std::string shapeString(const std::vector<std::size_t> &shape) {
  std::ostringstream os;
  os << '{';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << '}';
  return os.str();
}

void appendSegment(std::vector<Segment> &segments, const Segment &in) {
  if (in.count == 0) return;
  Segment s = in;
  if (s.count == 1) s.stride = 1;
  if (!segments.empty()) {
    Segment &last = segments.back();
    if (last.var == s.var) {
      if (last.count == 1) {
        std::int64_t step = s.start - last.start;
        if (s.count == 1 || s.stride == step) {
          last.stride = step;
          last.count += s.count;
          return;
        }
      } else if ((s.count == 1 || s.stride == last.stride) &&
                 s.start == last.start + static_cast<std::int64_t>(last.count) * last.stride) {
        last.count += s.count;
        return;
      }
    }
  }
  segments.push_back(s);
}

poplar::Tensor variableTensor(std::shared_ptr<GraphState> graph, std::uint32_t var, const poplar::Type &type,
                              const std::vector<std::size_t> &shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->type = type;
  impl->shape = shape;
  impl->graph = std::move(graph);
  appendSegment(impl->segments, Segment{var, 0, product(shape), 1});
  return Access::makeTensor(std::move(impl));
}

namespace {

std::vector<std::int64_t> rowMajorStrides(const std::vector<std::size_t> &shape) {
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t s = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= static_cast<std::int64_t>(shape[i]);
  }
  return strides;
}

[[noreturn]] void fail(const std::string &op, const TensorLayout &t, const std::string &why) {
  throw poplar::poplar_error("poplar::Tensor::" + op + " on a tensor of shape " + shapeString(t.shape) + ": " + why);
}

// The view whose element at multi-index i is src's flat element offset + sum(i[k] * strides[k]).
poplar::Tensor strided(const TensorImpl &src, const std::vector<std::size_t> &shape, std::int64_t offset,
                       const std::vector<std::int64_t> &strides) {
  auto out = std::make_shared<TensorImpl>();
  out->type = src.type;
  out->shape = shape;
  out->graph = src.graph;
  std::size_t n = product(shape);
  if (n > 0) {
    std::vector<std::size_t> starts(src.segments.size() + 1, 0);
    for (std::size_t j = 0; j < src.segments.size(); ++j) starts[j + 1] = starts[j] + src.segments[j].count;
    auto locate = [&](std::int64_t flat) {
      auto it = std::upper_bound(starts.begin(), starts.end(), static_cast<std::size_t>(flat));
      return static_cast<std::size_t>(it - starts.begin()) - 1;
    };
    std::size_t rank = shape.size();
    std::size_t runLength = rank ? shape.back() : 1;
    std::int64_t runStride = rank ? strides.back() : 0;
    std::size_t outer = n / runLength;
    std::vector<std::size_t> idx(rank ? rank - 1 : 0, 0);
    for (std::size_t o = 0; o < outer; ++o) {
      std::int64_t base = offset;
      for (std::size_t k = 0; k < idx.size(); ++k) base += static_cast<std::int64_t>(idx[k]) * strides[k];
      std::int64_t lastFlat = base + static_cast<std::int64_t>(runLength - 1) * runStride;
      std::size_t j = locate(base);
      const Segment &seg = src.segments[j];
      std::int64_t firstPos = seg.start + (base - static_cast<std::int64_t>(starts[j])) * seg.stride;
      if (lastFlat >= static_cast<std::int64_t>(starts[j]) && lastFlat < static_cast<std::int64_t>(starts[j + 1])) {
        appendSegment(out->segments, Segment{seg.var, firstPos, runLength, runStride * seg.stride});
      } else {
        for (std::size_t k = 0; k < runLength; ++k) {
          std::int64_t flat = base + static_cast<std::int64_t>(k) * runStride;
          std::size_t jj = locate(flat);
          const Segment &sg = src.segments[jj];
          appendSegment(out->segments,
                        Segment{sg.var, sg.start + (flat - static_cast<std::int64_t>(starts[jj])) * sg.stride, 1, 1});
        }
      }
      for (std::size_t k = idx.size(); k-- > 0;) {
        if (++idx[k] < shape[k]) break;
        idx[k] = 0;
      }
    }
  }
  return Access::makeTensor(std::move(out));
}

poplar::Tensor withShape(const TensorImpl &src, std::vector<std::size_t> shape) {
  auto out = std::make_shared<TensorImpl>(src);
  out->shape = std::move(shape);
  return Access::makeTensor(std::move(out));
}

std::vector<std::pair<std::uint32_t, std::size_t>> sortedElements(const TensorLayout &t) {
  std::vector<std::pair<std::uint32_t, std::size_t>> out;
  out.reserve(t.numElements());
  forEachElement(t.segments, [&](std::uint32_t v, std::size_t i) { out.emplace_back(v, i); });
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace
} // namespace poplar_emulator

namespace poplar {

using namespace poplar_emulator;

Tensor::Tensor() = default;
Tensor::Tensor(std::shared_ptr<const TensorImpl> impl) : impl_(std::move(impl)) {}

const TensorImpl &Tensor::impl() const {
  if (!impl_) throw poplar_error("poplar::Tensor: the tensor is not valid (default-constructed)");
  return *impl_;
}

Type Tensor::elementType() const { return impl().type; }
std::size_t Tensor::numElements() const { return impl().numElements(); }
std::vector<std::size_t> Tensor::shape() const { return impl().shape; }
unsigned Tensor::rank() const { return static_cast<unsigned>(impl().shape.size()); }
bool Tensor::valid() const { return static_cast<bool>(impl_); }
std::size_t Tensor::dim(unsigned i) const {
  if (i >= rank()) fail("dim", impl(), "dimension " + std::to_string(i) + " does not exist");
  return impl().shape[i];
}
std::string Tensor::shapeToString() const { return shapeString(impl().shape); }

Tensor Tensor::slice(std::size_t begin, std::size_t end, unsigned dimension) const & {
  const TensorImpl &t = impl();
  if (dimension >= t.shape.size()) fail("slice", t, "dimension " + std::to_string(dimension) + " does not exist");
  if (begin > end || end > t.shape[dimension])
    fail("slice", t, "[" + std::to_string(begin) + ", " + std::to_string(end) + ") is not within dimension " +
                         std::to_string(dimension) + " of size " + std::to_string(t.shape[dimension]));
  std::vector<std::int64_t> strides = rowMajorStrides(t.shape);
  std::vector<std::size_t> shape = t.shape;
  shape[dimension] = end - begin;
  return strided(t, shape, static_cast<std::int64_t>(begin) * strides[dimension], strides);
}
Tensor Tensor::slice(std::size_t begin, std::size_t end) const { return slice(begin, end, 0); }
Tensor Tensor::slice(const Interval &region, unsigned dimension) const {
  return slice(region.begin(), region.end(), dimension);
}
Tensor Tensor::slice(ArrayRef<std::size_t> begin, ArrayRef<std::size_t> end) const {
  const TensorImpl &t = impl();
  if (begin.size() != t.shape.size() || end.size() != t.shape.size())
    fail("slice", t, "begin and end need one index per dimension");
  Tensor out = *this;
  for (unsigned d = 0; d < begin.size(); ++d) out = out.slice(begin[d], end[d], d);
  return out;
}
std::vector<Tensor> Tensor::slices(ArrayRef<Interval> intervals, unsigned dimension) const {
  std::vector<Tensor> out;
  for (const Interval &i : intervals) out.push_back(slice(i, dimension));
  return out;
}
std::vector<Tensor> Tensor::slices(const std::vector<std::vector<Interval>> &intervals, unsigned dimension) const {
  std::vector<Tensor> out;
  for (const auto &group : intervals) {
    std::vector<Tensor> parts = slices(group, dimension);
    out.push_back(concat(parts, dimension));
  }
  return out;
}
std::vector<Tensor> Tensor::slices(const ArrayRef<unsigned> &indices, unsigned dimension) const {
  std::vector<Tensor> out;
  for (unsigned i : indices) out.push_back(slice(i, i + 1, dimension));
  return out;
}
Tensor Tensor::operator[](std::size_t i) const & {
  const TensorImpl &t = impl();
  if (t.shape.empty()) fail("operator[]", t, "a scalar cannot be indexed");
  return slice(i, i + 1, 0).squeeze({0});
}
Tensor Tensor::index(ArrayRef<std::size_t> indices) const {
  Tensor out = *this;
  for (std::size_t i : indices) out = out[i];
  return out;
}
Tensor Tensor::reshape(ArrayRef<std::size_t> shape) const {
  const TensorImpl &t = impl();
  std::vector<std::size_t> s(shape.begin(), shape.end());
  if (product(s) != t.numElements())
    fail("reshape", t, "cannot reshape " + std::to_string(t.numElements()) + " elements to " + shapeString(s));
  return withShape(t, s);
}
Tensor Tensor::flatten() const { return reshape({numElements()}); }
Tensor Tensor::flatten(unsigned dimBegin, unsigned dimEnd) const {
  const TensorImpl &t = impl();
  if (dimBegin >= dimEnd || dimEnd > t.shape.size()) fail("flatten", t, "dimensions [begin, end) are out of range");
  std::vector<std::size_t> s(t.shape.begin(), t.shape.begin() + dimBegin);
  std::size_t merged = 1;
  for (unsigned d = dimBegin; d < dimEnd; ++d) merged *= t.shape[d];
  s.push_back(merged);
  s.insert(s.end(), t.shape.begin() + dimEnd, t.shape.end());
  return withShape(t, s);
}
Tensor Tensor::reshapePartial(unsigned beginIndex, unsigned endIndex, ArrayRef<std::size_t> newDims) const {
  const TensorImpl &t = impl();
  if (beginIndex > endIndex || endIndex > t.shape.size()) fail("reshapePartial", t, "dimensions out of range");
  std::size_t old = 1;
  for (unsigned d = beginIndex; d < endIndex; ++d) old *= t.shape[d];
  std::vector<std::size_t> nd(newDims.begin(), newDims.end());
  if (product(nd) != old) fail("reshapePartial", t, "the new dimensions " + shapeString(nd) + " hold a different number of elements");
  std::vector<std::size_t> s(t.shape.begin(), t.shape.begin() + beginIndex);
  s.insert(s.end(), nd.begin(), nd.end());
  s.insert(s.end(), t.shape.begin() + endIndex, t.shape.end());
  return withShape(t, s);
}
Tensor Tensor::dimShuffle(ArrayRef<unsigned> permutation) const {
  const TensorImpl &t = impl();
  std::vector<unsigned> p(permutation.begin(), permutation.end());
  std::vector<unsigned> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (unsigned i = 0; i < sorted.size(); ++i)
    if (sorted[i] != i || sorted.size() != t.shape.size()) fail("dimShuffle", t, "the permutation is not a permutation of the dimensions");
  std::vector<std::int64_t> strides = rowMajorStrides(t.shape);
  std::vector<std::size_t> shape(p.size());
  std::vector<std::int64_t> st(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    shape[i] = t.shape[p[i]];
    st[i] = strides[p[i]];
  }
  return strided(t, shape, 0, st);
}
Tensor Tensor::dimShufflePartial(ArrayRef<unsigned> source, ArrayRef<unsigned> destination) const {
  const TensorImpl &t = impl();
  unsigned r = static_cast<unsigned>(t.shape.size());
  if (source.size() != destination.size()) fail("dimShufflePartial", t, "source and destination differ in length");
  std::vector<int> perm(r, -1);
  std::vector<bool> used(r, false);
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] >= r || destination[i] >= r || perm[destination[i]] != -1 || used[source[i]])
      fail("dimShufflePartial", t, "dimensions out of range or repeated");
    perm[destination[i]] = static_cast<int>(source[i]);
    used[source[i]] = true;
  }
  unsigned next = 0;
  for (unsigned d = 0; d < r; ++d) {
    if (perm[d] != -1) continue;
    while (used[next]) ++next;
    perm[d] = static_cast<int>(next);
    used[next] = true;
  }
  std::vector<unsigned> p(perm.begin(), perm.end());
  return dimShuffle(p);
}
Tensor Tensor::dimRoll(unsigned dimIdx, unsigned newIdx) const {
  const TensorImpl &t = impl();
  unsigned r = static_cast<unsigned>(t.shape.size());
  if (dimIdx >= r || newIdx >= r) fail("dimRoll", t, "dimension out of range");
  std::vector<unsigned> order;
  for (unsigned d = 0; d < r; ++d)
    if (d != dimIdx) order.push_back(d);
  order.insert(order.begin() + newIdx, dimIdx);
  return dimShuffle(order);
}
Tensor Tensor::transpose() const {
  const TensorImpl &t = impl();
  if (t.shape.size() != 2) fail("transpose", t, "transpose needs a rank-2 tensor");
  return dimShuffle({1, 0});
}
Tensor Tensor::expand(ArrayRef<std::size_t> indices) const {
  const TensorImpl &t = impl();
  std::vector<std::size_t> idx(indices.begin(), indices.end());
  std::sort(idx.begin(), idx.end());
  std::vector<std::size_t> s = t.shape;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    std::size_t at = idx[k] + k; // positions count in the original tensor's dimensions
    if (at > s.size()) fail("expand", t, "index " + std::to_string(idx[k]) + " is past the last dimension");
    s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), 1);
  }
  return withShape(t, s);
}
Tensor Tensor::squeeze(ArrayRef<std::size_t> indices) const {
  const TensorImpl &t = impl();
  std::vector<bool> drop(t.shape.size(), false);
  for (std::size_t i : indices) {
    if (i >= t.shape.size() || t.shape[i] != 1) fail("squeeze", t, "dimension " + std::to_string(i) + " is not of size 1");
    drop[i] = true;
  }
  std::vector<std::size_t> s;
  for (std::size_t d = 0; d < t.shape.size(); ++d)
    if (!drop[d]) s.push_back(t.shape[d]);
  return withShape(t, s);
}
Tensor Tensor::subSample(unsigned stride, unsigned dimension) const {
  const TensorImpl &t = impl();
  if (dimension >= t.shape.size() || stride == 0) fail("subSample", t, "bad dimension or zero stride");
  std::vector<std::int64_t> st = rowMajorStrides(t.shape);
  std::vector<std::size_t> s = t.shape;
  s[dimension] = (s[dimension] + stride - 1) / stride;
  st[dimension] *= stride;
  return strided(t, s, 0, st);
}
Tensor Tensor::upsample(unsigned scale, unsigned dimension, UpsampleMethod) const {
  const TensorImpl &t = impl();
  if (dimension >= t.shape.size() || scale == 0) fail("upsample", t, "bad dimension or zero scale");
  std::vector<std::int64_t> st = rowMajorStrides(t.shape);
  std::vector<std::size_t> s = t.shape;
  s.insert(s.begin() + dimension + 1, scale);
  st.insert(st.begin() + dimension + 1, 0);
  std::vector<std::size_t> merged = t.shape;
  merged[dimension] *= scale;
  return strided(t, s, 0, st).reshape(merged);
}
Tensor Tensor::broadcast(unsigned N, unsigned dim) const {
  const TensorImpl &t = impl();
  if (dim >= t.shape.size()) fail("broadcast", t, "dimension " + std::to_string(dim) + " does not exist");
  std::vector<std::int64_t> st = rowMajorStrides(t.shape);
  std::vector<std::size_t> s = t.shape;
  s.insert(s.begin() + dim, N);
  st.insert(st.begin() + dim, 0);
  std::vector<std::size_t> merged = t.shape;
  merged[dim] *= N;
  return strided(t, s, 0, st).reshape(merged);
}
Tensor Tensor::reinterpret(const Type &type) const {
  const TensorImpl &t = impl();
  if (typeInfo(type).size != typeInfo(t.type).size)
    fail("reinterpret", t, std::string("cannot reinterpret ") + typeInfo(t.type).name + " as " + typeInfo(type).name +
                               ": the sizes differ");
  auto out = std::make_shared<TensorImpl>(t);
  out->type = type;
  return Tensor(std::move(out));
}
Tensor Tensor::reverse(unsigned dimension) const {
  const TensorImpl &t = impl();
  if (dimension >= t.shape.size()) fail("reverse", t, "dimension out of range");
  std::vector<std::int64_t> st = rowMajorStrides(t.shape);
  std::int64_t offset = t.shape[dimension] ? static_cast<std::int64_t>(t.shape[dimension] - 1) * st[dimension] : 0;
  st[dimension] = -st[dimension];
  return strided(t, t.shape, offset, st);
}
bool Tensor::isContiguous() const {
  const TensorImpl &t = impl();
  return t.segments.size() <= 1 && (t.segments.empty() || t.segments[0].count <= 1 || t.segments[0].stride == 1);
}
bool Tensor::containsAliases() const {
  auto e = sortedElements(impl());
  return std::adjacent_find(e.begin(), e.end()) != e.end();
}
bool Tensor::containsConstant() const {
  const TensorImpl &t = impl();
  for (const Segment &s : t.segments)
    if (t.graph->vars[s.var].constant) return true;
  return false;
}
bool Tensor::isParallelWriteable() const { return !containsAliases() && !containsConstant(); }
std::vector<Interval> Tensor::getContiguousRegions() const {
  std::vector<Interval> out;
  std::size_t flat = 0;
  for (const Segment &s : impl().segments) {
    if (s.stride == 1) {
      out.emplace_back(flat, flat + s.count);
    } else {
      for (std::size_t k = 0; k < s.count; ++k) out.emplace_back(flat + k, flat + k + 1);
    }
    flat += s.count;
  }
  return out;
}
bool Tensor::intersectsWith(const Tensor &other) const {
  auto a = sortedElements(impl());
  auto b = sortedElements(other.impl());
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) return true;
    if (a[i] < b[j]) ++i;
    else ++j;
  }
  return false;
}

Tensor concat(ArrayRef<Tensor> ts, unsigned dimension) {
  if (ts.empty()) throw poplar_error("poplar::concat: no tensors to concatenate");
  const TensorImpl &first = Access::impl(ts[0]) ? *Access::impl(ts[0]) : throw poplar_error("poplar::concat: an input tensor is not valid");
  std::size_t rank = first.shape.size();
  if (dimension >= rank) throw poplar_error("poplar::concat: dimension " + std::to_string(dimension) + " does not exist in a tensor of shape " + shapeString(first.shape));
  std::vector<std::size_t> shape = first.shape;
  shape[dimension] = 0;
  for (const Tensor &t : ts) {
    if (!t.valid()) throw poplar_error("poplar::concat: an input tensor is not valid");
    const TensorImpl &ti = *Access::impl(t);
    bool same = ti.shape.size() == rank && ti.type == first.type && ti.graph == first.graph;
    for (std::size_t d = 0; same && d < rank; ++d) same = d == dimension || ti.shape[d] == first.shape[d];
    if (!same)
      throw poplar_error("poplar::concat: tensors of shapes " + shapeString(first.shape) + " and " + shapeString(ti.shape) +
                         " (or of different types or graphs) cannot be concatenated along dimension " + std::to_string(dimension));
    shape[dimension] += ti.shape[dimension];
  }
  if (dimension != 0) {
    std::vector<Tensor> rolled;
    for (const Tensor &t : ts) rolled.push_back(t.dimRoll(dimension, 0));
    return concat(rolled, 0).dimRoll(0, dimension);
  }
  auto out = std::make_shared<TensorImpl>();
  out->type = first.type;
  out->shape = shape;
  out->graph = first.graph;
  for (const Tensor &t : ts)
    for (const Segment &s : Access::impl(t)->segments) appendSegment(out->segments, s);
  return Access::makeTensor(std::move(out));
}

Tensor append(const Tensor &first, const Tensor &second, unsigned dimension) {
  return concat({first, second.expand({dimension})}, dimension);
}

bool operator==(const Tensor &a, const Tensor &b) {
  if (!a.valid() || !b.valid()) return a.valid() == b.valid();
  const TensorImpl &x = *Access::impl(a), &y = *Access::impl(b);
  if (x.type != y.type || x.shape != y.shape || x.graph != y.graph) return false;
  std::vector<std::pair<std::uint32_t, std::size_t>> ex, ey;
  forEachElement(x.segments, [&](std::uint32_t v, std::size_t i) { ex.emplace_back(v, i); });
  forEachElement(y.segments, [&](std::uint32_t v, std::size_t i) { ey.emplace_back(v, i); });
  return ex == ey;
}

} // namespace poplar
