#include "kernels/slice_kernels.h"
#include "op_reference.h"

#include <numeric>
#include <stdexcept>

using namespace poplar_emulator;
using namespace ops_test;

namespace {

std::vector<float> iota(std::size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

// Flat index of a multi-index in a row-major shape.
std::size_t flat(const std::vector<std::size_t> &shape, const std::vector<std::size_t> &index) {
  std::size_t f = 0;
  for (std::size_t d = 0; d < shape.size(); ++d)
    f = f * shape[d] + index[d];
  return f;
}

// The element of base that element s of a slice at offsets (wrapping) comes from.
std::size_t sourceOf(const SliceGeometry &g, const std::size_t *offsets, std::size_t s) {
  std::vector<std::size_t> extent = g.shape;
  for (std::size_t i = 0; i < g.dims.size(); ++i)
    extent[g.dims[i]] = g.sizes[i];
  std::vector<std::size_t> index(g.shape.size());
  for (std::size_t d = g.shape.size(); d-- > 0;) {
    index[d] = s % extent[d];
    s /= extent[d];
  }
  for (std::size_t i = 0; i < g.dims.size(); ++i)
    index[g.dims[i]] = (index[g.dims[i]] + offsets[i]) % g.shape[g.dims[i]];
  return flat(g.shape, index);
}

} // namespace

TEST(SliceKernels, DynamicSliceAndUpdateOnRandomGeometriesWrapAtTheEnd) {
  auto rng = testRng();
  for (int trial = 0; trial < 50; ++trial) {
    SliceGeometry g;
    g.shape = randomShape(rng, randomSize(rng, 1, 4), 6);
    for (std::size_t d = 0; d < g.shape.size(); ++d)
      if (randomSize(rng, 0, 1) == 1 || (d + 1 == g.shape.size() && g.dims.empty())) {
        g.dims.push_back(d);
        g.sizes.push_back(randomSize(rng, 1, g.shape[d]));
      }
    ASSERT_NO_THROW(checkSliceGeometry(g, "test"));
    std::vector<std::size_t> offsets;
    for (std::size_t d : g.dims)
      offsets.push_back(randomSize(rng, 0, 2 * g.shape[d]));  // past the end too: wraps
    const auto base = iota(elementCount(g.shape));
    std::vector<float> slice(g.sliceElements());
    dynamicSliceKernel(g, base.data(), offsets.data(), slice.data());
    for (std::size_t s = 0; s < slice.size(); ++s)
      ASSERT_EQ(slice[s], base[sourceOf(g, offsets.data(), s)]) << "trial " << trial << " element " << s;

    std::vector<float> updated = base;
    std::vector<float> values(slice.size());
    for (std::size_t s = 0; s < values.size(); ++s)
      values[s] = -1.0f - static_cast<float>(s);
    dynamicUpdateKernel(g, updated.data(), values.data(), offsets.data());
    std::vector<float> expected = base;
    for (std::size_t s = 0; s < values.size(); ++s)
      expected[sourceOf(g, offsets.data(), s)] = values[s];
    ASSERT_EQ(updated, expected) << "trial " << trial;
  }
}

TEST(SliceKernels, MultiSliceGathersRowsAndReadsZerosOutOfRange) {
  SliceGeometry g{{5, 3}, {0}, {1}, sizeof(float)};
  const auto table = iota(15);
  const std::size_t offsets[] = {4, 0, 5, 2};
  std::vector<float> rows(12, -1);
  multiSliceKernel(g, table.data(), offsets, 4, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{12, 13, 14, 0, 1, 2, 0, 0, 0, 6, 7, 8}));
}

TEST(SliceKernels, MultiUpdateAddAccumulatesRepeatedIndicesAndSkipsOutOfRange) {
  SliceGeometry g{{3, 2}, {0}, {1}, sizeof(float)};
  std::vector<float> table(6, 1.0f);
  const std::vector<float> updates = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::size_t offsets[] = {1, 1, 7, 0};
  multiUpdateAddKernel(g, table.data(), updates.data(), offsets, 4, 0.5f);
  EXPECT_EQ(table, (std::vector<float>{1 + 3.5f, 1 + 4.0f, 1 + 0.5f + 1.5f, 1 + 1.0f + 2.0f, 1, 1}));
  std::vector<float> replaced(6, 0.0f);
  multiUpdateKernel(g, replaced.data(), updates.data(), offsets, 4);
  EXPECT_EQ(replaced, (std::vector<float>{7, 8, 3, 4, 0, 0}));  // the later update of row 1 wins
}

TEST(SliceKernels, BadGeometriesAreRefusedWithTheReason) {
  try {
    checkSliceGeometry({{4, 4}, {2}, {1}, 4}, "popops::dynamicSlice");
    FAIL() << "dimension 2 of a rank-2 tensor was accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("dimension 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(checkSliceGeometry({{4, 4}, {0}, {5}, 4}, "x"), std::invalid_argument);
  EXPECT_THROW(checkSliceGeometry({{4, 4}, {0, 0}, {1, 1}, 4}, "x"), std::invalid_argument);
  EXPECT_THROW(checkSliceGeometry({{4, 4}, {0}, {1, 1}, 4}, "x"), std::invalid_argument);
}
