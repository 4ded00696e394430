// Dynamic slices and updates of contiguous arrays: popops::dynamicSlice/dynamicUpdate (one offset
// per sliced dimension, wrapping past the end) and multiSlice/multiUpdate/multiUpdateAdd (many
// offsets; a slice that does not fit reads zeros and an update that does not fit is skipped).
#pragma once

#include <cstddef>
#include <vector>

namespace poplar_emulator {

struct SliceGeometry {
  std::vector<std::size_t> shape;  // of the sliced tensor, row-major
  std::vector<std::size_t> dims;   // the dimensions sliced
  std::vector<std::size_t> sizes;  // the slice's size in each of dims
  std::size_t elementSize = 4;     // bytes per element

  // Elements in one slice.
  std::size_t sliceElements() const;
};

// Throws std::invalid_argument naming what is wrong (a dimension out of range, a size larger than
// its dimension, dims repeated, dims and sizes of different lengths).
void checkSliceGeometry(const SliceGeometry &geometry, const char *op);

void dynamicSliceKernel(const SliceGeometry &geometry, const void *base, const std::size_t *offsets, void *slice);
void dynamicUpdateKernel(const SliceGeometry &geometry, void *base, const void *slice, const std::size_t *offsets);

// offsets holds count rows of geometry.dims.size() values; slices holds count slices back to back.
void multiSliceKernel(const SliceGeometry &geometry, const void *base, const std::size_t *offsets, std::size_t count,
                      void *slices);
void multiUpdateKernel(const SliceGeometry &geometry, void *base, const void *slices, const std::size_t *offsets,
                       std::size_t count);
// base += scale * slice for each slice, in order (float elements).
void multiUpdateAddKernel(const SliceGeometry &geometry, float *base, const float *slices, const std::size_t *offsets,
                          std::size_t count, float scale);

} // namespace poplar_emulator
