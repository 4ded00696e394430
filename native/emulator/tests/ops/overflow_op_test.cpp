// A half overflow inside an op, under both floating-point behaviours: the way Flan-T5's fp16
// overflow is found.
#include "engine_harness.h"

#include <poplar/CSRFunctions.hpp>
#include <poplar/exceptions.hpp>
#include <poplin/MatMul.hpp>
#include <popops/ElementWise.hpp>

using namespace ops_test;

TEST(OverflowOp, HalfOverflowSaturatesWithoutExceptionsAndStopsTheRunNamingTheOpWithOflo) {
  for (bool exceptions : {false, true}) {
    Harness h;
    poplar::Tensor x = h.input(poplar::HALF, {4}, "x");
    poplar::Tensor w = h.input(poplar::HALF, {4, 4}, "w");
    h.set("x", {100, 200, -300, 1});
    h.set("w", std::vector<float>(16, 100.0f));
    poplar::setFloatingPointBehaviour(h.graph, h.prog,
                                      poplar::FloatingPointBehaviour(false, false, exceptions, false, false));
    poplar::Tensor scaled = popops::mul(h.graph, x, 1000.0f, h.prog, "encoder/block3/ffn/scale");
    h.readBack("scaled", scaled);
    if (!exceptions) {
      h.run();
      // 100000, 200000, -300000 are past the half range: saturated; 1000 is exact.
      EXPECT_EQ(h.read("scaled", 4), (std::vector<float>{65504, 65504, -65504, 1000}));
      continue;
    }
    try {
      h.run();
      FAIL() << "a half overflow with oflo on did not stop the run";
    } catch (const poplar::application_runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("encoder/block3/ffn/scale"), std::string::npos) << e.what();
    }
  }
}

TEST(OverflowOp, AMatmulWhoseHalfResultOverflowsIsCaughtWithOflo) {
  Harness h;
  poplar::Tensor a = h.input(poplar::HALF, {2, 8}, "a");
  poplar::Tensor b = h.input(poplar::HALF, {8, 2}, "b");
  h.set("a", std::vector<float>(16, 200.0f));
  h.set("b", std::vector<float>(16, 100.0f));  // each result 8 * 20000 = 160000 > 65504
  poplar::setFloatingPointBehaviour(h.graph, h.prog, poplar::FloatingPointBehaviour(false, false, true, false, false));
  poplar::Tensor c = poplin::matMul(h.graph, a, b, h.prog, "decoder/block0/attention/qk");
  h.readBack("c", c);
  try {
    h.run();
    FAIL() << "the overflowing product was not caught";
  } catch (const poplar::application_runtime_error &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("decoder/block0/attention/qk"), std::string::npos) << what;
    // where the values grew: the product's range before rounding, and both operands'
    EXPECT_NE(what.find("output half{2,2} range [160000, 160000]"), std::string::npos) << what;
    EXPECT_NE(what.find("input 0 half{2,8} range [200, 200]"), std::string::npos) << what;
    EXPECT_NE(what.find("input 1 half{8,2} range [100, 100]"), std::string::npos) << what;
  }
}
