#include "kernels/slice_kernels.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace poplar_emulator {
namespace {

// Per dimension of the sliced tensor: the slice's extent and where it starts.
struct Window {
  std::vector<std::size_t> extent;
  std::vector<std::size_t> start;
};

Window makeWindow(const SliceGeometry &g, const std::size_t *offsets, bool wrap, bool *fits) {
  Window w{g.shape, std::vector<std::size_t>(g.shape.size(), 0)};
  *fits = true;
  for (std::size_t i = 0; i < g.dims.size(); ++i) {
    const std::size_t d = g.dims[i];
    w.extent[d] = g.sizes[i];
    const std::size_t n = g.shape[d];
    if (wrap) {
      w.start[d] = n == 0 ? 0 : offsets[i] % n;
    } else {
      w.start[d] = offsets[i];
      if (offsets[i] > n || g.sizes[i] > n - offsets[i])
        *fits = false;
    }
  }
  return w;
}

// Calls visit(baseElement, sliceElement, count) for runs of elements contiguous in both, walking
// the slice in row-major order; indices past a dimension's end wrap to its start.
template <class Visit> void forEachRun(const SliceGeometry &g, const Window &w, Visit visit) {
  const std::size_t rank = g.shape.size();
  std::size_t total = 1;
  for (std::size_t e : w.extent)
    total *= e;
  if (total == 0)
    return;
  if (rank == 0) {
    visit(0, 0, 1);
    return;
  }
  std::vector<std::size_t> baseStride(rank, 1);
  for (std::size_t d = rank - 1; d-- > 0;)
    baseStride[d] = baseStride[d + 1] * g.shape[d + 1];
  const std::size_t last = rank - 1;
  const std::size_t rowLength = w.extent[last];
  std::vector<std::size_t> index(rank, 0);
  for (std::size_t sliceOffset = 0; sliceOffset < total; sliceOffset += rowLength) {
    std::size_t rowBase = 0;
    for (std::size_t d = 0; d < last; ++d)
      rowBase += ((w.start[d] + index[d]) % g.shape[d]) * baseStride[d];
    const std::size_t first = w.start[last] % g.shape[last];
    const std::size_t beforeWrap = std::min(rowLength, g.shape[last] - first);
    visit(rowBase + first, sliceOffset, beforeWrap);
    if (beforeWrap < rowLength)
      visit(rowBase, sliceOffset + beforeWrap, rowLength - beforeWrap);
    for (std::size_t d = last; d-- > 0;) {
      if (++index[d] < w.extent[d])
        break;
      index[d] = 0;
    }
  }
}

} // namespace

std::size_t SliceGeometry::sliceElements() const {
  std::size_t n = 1;
  std::vector<std::size_t> extent = shape;
  for (std::size_t i = 0; i < dims.size() && i < sizes.size(); ++i)
    if (dims[i] < extent.size())
      extent[dims[i]] = sizes[i];
  for (std::size_t e : extent)
    n *= e;
  return n;
}

void checkSliceGeometry(const SliceGeometry &g, const char *op) {
  const std::string name(op);
  if (g.dims.size() != g.sizes.size())
    throw std::invalid_argument(name + ": dims has " + std::to_string(g.dims.size()) + " entries but sizes has " +
                                std::to_string(g.sizes.size()));
  for (std::size_t i = 0; i < g.dims.size(); ++i) {
    if (g.dims[i] >= g.shape.size())
      throw std::invalid_argument(name + ": dimension " + std::to_string(g.dims[i]) + " does not exist in a rank-" +
                                  std::to_string(g.shape.size()) + " tensor");
    if (g.sizes[i] > g.shape[g.dims[i]])
      throw std::invalid_argument(name + ": slice size " + std::to_string(g.sizes[i]) + " exceeds dimension " +
                                  std::to_string(g.dims[i]) + " of size " + std::to_string(g.shape[g.dims[i]]));
    for (std::size_t j = 0; j < i; ++j)
      if (g.dims[j] == g.dims[i])
        throw std::invalid_argument(name + ": dimension " + std::to_string(g.dims[i]) + " listed twice in dims");
  }
}

void dynamicSliceKernel(const SliceGeometry &g, const void *base, const std::size_t *offsets, void *slice) {
  bool fits = true;
  const Window w = makeWindow(g, offsets, true, &fits);
  const auto *from = static_cast<const std::uint8_t *>(base);
  auto *to = static_cast<std::uint8_t *>(slice);
  forEachRun(g, w, [&](std::size_t b, std::size_t s, std::size_t n) {
    std::memcpy(to + s * g.elementSize, from + b * g.elementSize, n * g.elementSize);
  });
}

void dynamicUpdateKernel(const SliceGeometry &g, void *base, const void *slice, const std::size_t *offsets) {
  bool fits = true;
  const Window w = makeWindow(g, offsets, true, &fits);
  auto *to = static_cast<std::uint8_t *>(base);
  const auto *from = static_cast<const std::uint8_t *>(slice);
  forEachRun(g, w, [&](std::size_t b, std::size_t s, std::size_t n) {
    std::memmove(to + b * g.elementSize, from + s * g.elementSize, n * g.elementSize);
  });
}

void multiSliceKernel(const SliceGeometry &g, const void *base, const std::size_t *offsets, std::size_t count,
                      void *slices) {
  const std::size_t sliceBytes = g.sliceElements() * g.elementSize;
  const auto *from = static_cast<const std::uint8_t *>(base);
  for (std::size_t i = 0; i < count; ++i) {
    auto *to = static_cast<std::uint8_t *>(slices) + i * sliceBytes;
    bool fits = true;
    const Window w = makeWindow(g, offsets + i * g.dims.size(), false, &fits);
    if (!fits) {
      std::memset(to, 0, sliceBytes);
      continue;
    }
    forEachRun(g, w, [&](std::size_t b, std::size_t s, std::size_t n) {
      std::memcpy(to + s * g.elementSize, from + b * g.elementSize, n * g.elementSize);
    });
  }
}

void multiUpdateKernel(const SliceGeometry &g, void *base, const void *slices, const std::size_t *offsets,
                       std::size_t count) {
  const std::size_t sliceBytes = g.sliceElements() * g.elementSize;
  auto *to = static_cast<std::uint8_t *>(base);
  for (std::size_t i = 0; i < count; ++i) {
    const auto *from = static_cast<const std::uint8_t *>(slices) + i * sliceBytes;
    bool fits = true;
    const Window w = makeWindow(g, offsets + i * g.dims.size(), false, &fits);
    if (!fits)
      continue;
    forEachRun(g, w, [&](std::size_t b, std::size_t s, std::size_t n) {
      std::memmove(to + b * g.elementSize, from + s * g.elementSize, n * g.elementSize);
    });
  }
}

void multiUpdateAddKernel(const SliceGeometry &g, float *base, const float *slices, const std::size_t *offsets,
                          std::size_t count, float scale) {
  const std::size_t sliceElements = g.sliceElements();
  for (std::size_t i = 0; i < count; ++i) {
    const float *from = slices + i * sliceElements;
    bool fits = true;
    const Window w = makeWindow(g, offsets + i * g.dims.size(), false, &fits);
    if (!fits)
      continue;
    forEachRun(g, w, [&](std::size_t b, std::size_t s, std::size_t n) {
      for (std::size_t e = 0; e < n; ++e)
        base[b + e] += scale * from[s + e];
    });
  }
}

} // namespace poplar_emulator
