// popops::reduce through the engine: random dimension sets in float and half, float partials for
// half inputs, update and scale, logical reductions of bool tensors.
#include "engine_harness.h"

#include <poplar/exceptions.hpp>
#include <popops/Reduce.hpp>

using namespace ops_test;

TEST(ReduceOp, RandomDimensionsInFloatAndHalfMatchFloat64) {
  auto rng = testRng();
  for (int trial = 0; trial < 10; ++trial) {
    const bool half = trial % 2 == 1;
    const poplar::Type type = half ? poplar::HALF : poplar::FLOAT;
    const std::vector<std::size_t> shape = randomShape(rng, 3, 12);
    std::vector<std::size_t> dims;
    for (std::size_t d = 0; d < 3; ++d)
      if (randomSize(rng, 0, 1) == 1)
        dims.push_back(d);
    Harness h;
    poplar::Tensor in = h.input(type, shape, "in");
    const auto values = randomValues(rng, elementCount(shape), -2, 2, half);
    h.set("in", values);
    poplar::Tensor out = popops::reduce(h.graph, in, dims, popops::Operation::ADD, h.prog, "sum");
    h.readBack("out", out);
    h.run();
    std::vector<std::size_t> outShape;
    for (std::size_t d = 0; d < 3; ++d)
      if (std::find(dims.begin(), dims.end(), d) == dims.end())
        outShape.push_back(shape[d]);
    ASSERT_EQ(out.shape(), outShape);
    std::vector<double> expected(elementCount(outShape), 0.0), magnitude(expected.size(), 0.0);
    std::size_t terms = 1;
    for (std::size_t d : dims)
      terms *= shape[d];
    for (std::size_t i = 0; i < shape[0]; ++i)
      for (std::size_t j = 0; j < shape[1]; ++j)
        for (std::size_t k = 0; k < shape[2]; ++k) {
          const std::size_t idx[3] = {i, j, k};
          std::size_t o = 0;
          for (std::size_t d = 0; d < 3; ++d)
            if (std::find(dims.begin(), dims.end(), d) == dims.end())
              o = o * shape[d] + idx[d];
          const double v = values[(i * shape[1] + j) * shape[2] + k];
          expected[o] += v;
          magnitude[o] += std::fabs(v);
        }
    std::vector<double> bound(expected.size());
    for (std::size_t o = 0; o < expected.size(); ++o)
      // Float partials: (terms + 1) float units of the sum of magnitudes; a half result adds one
      // rounding of the sum (a half unit of it).
      bound[o] = (terms + 1) * kFloatUnit * magnitude[o] + (half ? kHalfUnit * std::fabs(expected[o]) : 0.0);
    expectWithin(h.read("out", expected.size()), expected, bound,
                 std::string(half ? "half" : "float") + " trial " + std::to_string(trial));
  }
}

TEST(ReduceOp, HalfInputsAreSummedWithFloatPartials) {
  // 3000 halves of 1: a half accumulator would stop at 2048 (2048 + 1 rounds back to 2048); float
  // partials reach 3000, which is a half value (even, spacing 2 above 2048).
  Harness h;
  poplar::Tensor in = h.input(poplar::HALF, {3000}, "in");
  h.set("in", std::vector<float>(3000, 1.0f));
  poplar::Tensor out = popops::reduce(h.graph, in, {0}, popops::Operation::ADD, h.prog, "sum");
  h.readBack("out", out);
  h.run();
  EXPECT_EQ(h.read("out", 1)[0], 3000.0f);
}

TEST(ReduceOp, UpdateWithAScaleTensorAddsToTheOutput) {
  Harness h;
  poplar::Tensor in = h.input(poplar::FLOAT, {2, 3}, "in");
  poplar::Tensor out = h.input(poplar::FLOAT, {2}, "out");
  poplar::Tensor scale = h.input(poplar::FLOAT, {}, "scale");
  h.set("in", {1, 2, 3, 4, 5, 6});
  h.set("out", {100, 200});
  h.set("scale", {0.5f});
  popops::reduceWithOutput(h.graph, in, out, {1}, {popops::Operation::SQUARE_ADD, true, scale}, h.prog, "sq");
  h.readBack("o", out);
  h.run();
  EXPECT_EQ(h.read("o", 2), (std::vector<float>{100 + 0.5f * 14, 200 + 0.5f * 77}));
}

TEST(ReduceOp, MaxOverRowsAndLogicalReductionsOfBool) {
  Harness h;
  poplar::Tensor in = h.input(poplar::FLOAT, {2, 3}, "in");
  poplar::Tensor flags = h.input(poplar::BOOL, {2, 3}, "flags");
  h.set("in", {1, -5, 3, -1, -2, -3});
  h.set("flags", {1, 1, 1, 0, 1, 0});
  poplar::Tensor mx = popops::reduce(h.graph, in, {1}, popops::Operation::MAX, h.prog, "max");
  poplar::Tensor all = popops::reduce(h.graph, flags, {1}, popops::Operation::LOGICAL_AND, h.prog, "all");
  poplar::Tensor any = popops::reduce(h.graph, flags, {0}, popops::Operation::LOGICAL_OR, h.prog, "any");
  h.readBack("mx", mx);
  h.readBack("all", all);
  h.readBack("any", any);
  h.run();
  EXPECT_EQ(h.read("mx", 2), (std::vector<float>{3, -1}));
  EXPECT_EQ(h.read("all", 2), (std::vector<float>{1, 0}));
  EXPECT_EQ(h.read("any", 3), (std::vector<float>{1, 1, 1}));
  EXPECT_THROW(popops::reduce(h.graph, in, {2}, popops::Operation::ADD, h.prog, "x"), poplar::poplar_error);
  EXPECT_THROW(popops::reduce(h.graph, in, {0}, popops::Operation::LOGICAL_OR, h.prog, "x"), poplar::poplar_error);
}
