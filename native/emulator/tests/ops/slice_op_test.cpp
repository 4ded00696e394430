// popops dynamic and multi slices through the engine, with offsets written at run time.
#include "engine_harness.h"

#include <poplar/exceptions.hpp>
#include <popops/DynamicSlice.hpp>

using namespace ops_test;

TEST(SliceOp, DynamicSliceAndUpdateFollowTheOffsetTensorAtRunTime) {
  // A KV-cache step: write a [1, 4] row at position p of a [6, 4] cache, then read rows [p, p + 2).
  for (bool half : {false, true}) {
    Harness h;
    const poplar::Type type = half ? poplar::HALF : poplar::FLOAT;
    poplar::Tensor cache = popops::createSliceableTensor(h.graph, type, {6, 4}, {0}, {1}, 0, "cache");
    h.writeBack("cache", cache);
    poplar::Tensor row = h.input(type, {1, 4}, "row");
    poplar::Tensor position = h.input(poplar::UNSIGNED_INT, {1}, "position");
    std::vector<float> cacheValues(24);
    for (std::size_t i = 0; i < 24; ++i)
      cacheValues[i] = static_cast<float>(i);
    h.set("cache", cacheValues);
    h.set("row", {-1, -2, -3, -4});
    h.setUnsigned("position", {5});
    popops::dynamicUpdate(h.graph, cache, row, position, {0}, {1}, h.prog, "write");
    poplar::Tensor window = popops::dynamicSlice(h.graph, cache, position, {0}, {2}, h.prog, "read");
    ASSERT_EQ(window.shape(), (std::vector<std::size_t>{2, 4}));
    h.readBack("cacheOut", cache);
    h.readBack("window", window);
    h.run();
    const auto out = h.read("cacheOut", 24);
    for (std::size_t i = 0; i < 24; ++i)
      EXPECT_EQ(out[i], i >= 20 ? -1.0f - static_cast<float>(i - 20) : cacheValues[i]) << i;
    // Rows 5 and 6 of a 6-row cache: row 6 wraps to row 0.
    const auto w = h.read("window", 8);
    EXPECT_EQ(w, (std::vector<float>{-1, -2, -3, -4, 0, 1, 2, 3}));
  }
}

TEST(SliceOp, DynamicSliceWithOutputWritesTheRowIntoTheGivenTensorsView) {
  // A stash of 3 slots of 2 + 3 elements restored into two tensors seen as one row.
  Harness h;
  poplar::Tensor stash = h.input(poplar::FLOAT, {3, 5}, "stash");
  poplar::Tensor slot = h.input(poplar::UNSIGNED_INT, {1}, "slot");
  poplar::Tensor a = h.graph.addVariable(poplar::FLOAT, {2}, poplar::VariableMappingMethod::LINEAR, "a");
  poplar::Tensor b = h.graph.addVariable(poplar::FLOAT, {3}, poplar::VariableMappingMethod::LINEAR, "b");
  std::vector<float> values(15);
  for (std::size_t i = 0; i < 15; ++i)
    values[i] = static_cast<float>(i);
  h.set("stash", values);
  h.setUnsigned("slot", {2});
  popops::dynamicSliceWithOutput(h.graph, poplar::concat(a, b).expand({0}), stash, slot, {0}, {1}, h.prog, "restore");
  h.readBack("a", a);
  h.readBack("b", b);
  h.run();
  EXPECT_EQ(h.read("a", 2), (std::vector<float>{10, 11}));
  EXPECT_EQ(h.read("b", 3), (std::vector<float>{12, 13, 14}));
  // the output must have the slice's shape and the stash's type
  poplar::Tensor wrong = h.graph.addVariable(poplar::FLOAT, {1, 4}, poplar::VariableMappingMethod::LINEAR, "wrong");
  EXPECT_THROW(popops::dynamicSliceWithOutput(h.graph, wrong, stash, slot, {0}, {1}, h.prog, "x"), poplar::poplar_error);
  poplar::Tensor half = h.graph.addVariable(poplar::HALF, {1, 5}, poplar::VariableMappingMethod::LINEAR, "half");
  EXPECT_THROW(popops::dynamicSliceWithOutput(h.graph, half, stash, slot, {0}, {1}, h.prog, "x"), poplar::poplar_error);
}

TEST(SliceOp, MultiSliceGathersEmbeddingRowsAndMultiUpdateAddScattersGradients) {
  auto rng = testRng();
  Harness h;
  const std::size_t vocab = 10, width = 6, lookups = 7;
  const popops::SlicePlan plan = popops::embedding::plan(h.graph, poplar::FLOAT, vocab, width, {lookups}, {});
  poplar::Tensor table = h.input(poplar::FLOAT, {vocab, width}, "table");
  poplar::Tensor grads = h.input(poplar::FLOAT, {vocab, width}, "grads");
  poplar::Tensor ids = popops::createIndicesTensor(h.graph, {0}, lookups, plan, {}, "ids");
  h.graph.createHostWrite("ids", ids);
  poplar::Tensor rowGrads = h.input(poplar::FLOAT, {lookups, 1, width}, "rowGrads");
  poplar::Tensor scale = h.input(poplar::FLOAT, {}, "scale");
  const auto tableValues = randomValues(rng, vocab * width, -1, 1, false);
  const auto gradValues = randomValues(rng, lookups * width, -1, 1, false);
  const std::vector<unsigned> idValues = {3, 0, 9, 3, 12, 7, 3};  // 12 is out of range
  h.set("table", tableValues);
  h.set("grads", std::vector<float>(vocab * width, 0.0f));
  h.set("rowGrads", gradValues);
  h.set("scale", {-0.25f});
  h.setUnsigned("ids", idValues);
  poplar::Tensor rows = popops::multiSlice(h.graph, table, ids, {0}, {1}, h.prog, plan, {}, "lookup");
  ASSERT_EQ(rows.shape(), (std::vector<std::size_t>{lookups, 1, width}));
  popops::multiUpdateAdd(h.graph, grads, rowGrads, ids, scale, {0}, {1}, h.prog, plan, {}, "scatter");
  h.readBack("rows", rows);
  h.readBack("gradsOut", grads);
  h.run();
  const auto r = h.read("rows", lookups * width);
  const auto g = h.read("gradsOut", vocab * width);
  std::vector<double> expectedGrads(vocab * width, 0.0), bound(vocab * width);
  for (std::size_t l = 0; l < lookups; ++l) {
    for (std::size_t j = 0; j < width; ++j) {
      const float expected = idValues[l] < vocab ? tableValues[idValues[l] * width + j] : 0.0f;
      EXPECT_EQ(r[l * width + j], expected) << "lookup " << l;
      if (idValues[l] < vocab)
        expectedGrads[idValues[l] * width + j] += -0.25 * gradValues[l * width + j];
    }
  }
  for (std::size_t i = 0; i < bound.size(); ++i)
    bound[i] = 4 * kFloatUnit;  // at most three scaled additions of values below 0.25 in float
  expectWithin(g, expectedGrads, bound, "multiUpdateAdd");
}

TEST(SliceOp, BadGeometryAndOffsetsAreRefused) {
  Harness h;
  poplar::Tensor t = h.input(poplar::FLOAT, {4, 4}, "t");
  poplar::Tensor offset = h.input(poplar::UNSIGNED_INT, {1}, "offset");
  poplar::Tensor floatOffset = h.input(poplar::FLOAT, {1}, "floatOffset");
  EXPECT_THROW(popops::dynamicSlice(h.graph, t, offset, {2}, {1}, h.prog, "x"), poplar::poplar_error);
  EXPECT_THROW(popops::dynamicSlice(h.graph, t, offset, {0}, {5}, h.prog, "x"), poplar::poplar_error);
  EXPECT_THROW(popops::dynamicSlice(h.graph, t, floatOffset, {0}, {1}, h.prog, "x"), poplar::poplar_error);
  EXPECT_THROW(popops::dynamicSlice(h.graph, t, offset, {0, 1}, {1, 1}, h.prog, "x"), poplar::poplar_error);
}

TEST(SliceOp, StaticOffsetsMultiUpdateAndTheTensorCreatorsShapes) {
  Harness h;
  poplar::Tensor table = h.input(poplar::HALF, {5, 3}, "table");
  poplar::Tensor rows = h.input(poplar::HALF, {2, 1, 3}, "rows");
  poplar::Tensor ids = h.input(poplar::UNSIGNED_INT, {2, 1}, "ids");
  h.set("table", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
  h.set("rows", {-1, -2, -3, -4, -5, -6});
  h.setUnsigned("ids", {4, 1});
  poplar::Tensor picked = popops::multiSlice(h.graph, table, poplar::ArrayRef<unsigned>({2u, 0u}), 0, h.prog, "pick");
  popops::multiUpdate(h.graph, table, rows, ids, {0}, {1}, h.prog, popops::SlicePlan(), {}, "put");
  h.readBack("picked", picked);
  h.readBack("tableOut", table);
  h.run();
  EXPECT_EQ(h.read("picked", 6), (std::vector<float>{6, 7, 8, 0, 1, 2}));  // read before the update
  EXPECT_EQ(h.read("tableOut", 15), (std::vector<float>{0, 1, 2, -4, -5, -6, 6, 7, 8, 9, 10, 11, -1, -2, -3}));

  poplar::Tensor slice = popops::createSliceTensor(h.graph, table, {1}, {2}, 4, "s");
  EXPECT_EQ(slice.shape(), (std::vector<std::size_t>{4, 5, 2}));
  EXPECT_EQ(slice.elementType(), poplar::HALF);
  poplar::Tensor sliceable = popops::createSliceableTensorFromSlice(h.graph, slice, {0, 2}, {2, 3}, "t");
  EXPECT_EQ(sliceable.shape(), (std::vector<std::size_t>{8, 5, 6}));
  EXPECT_EQ(popops::createIndicesTensor(h.graph, {0, 1}, 7, {}, {}, "i").shape(), (std::vector<std::size_t>{7, 2}));
}
