// popops::map and friends through the engine: float and half, broadcasts, in-place on views,
// aliasing inputs, the named wrappers, cast, fill/zero and scaledAddTo.
#include "engine_harness.h"

#include <poplar/exceptions.hpp>
#include <popops/Cast.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Fill.hpp>
#include <popops/ScaledAdd.hpp>
#include <popops/Zero.hpp>

using namespace ops_test;
namespace pe = popops::expr;

TEST(ElementWiseOp, BroadcastExpressionInFloatAndHalfRoundsHalfAfterEachOperation) {
  auto rng = testRng();
  for (int trial = 0; trial < 8; ++trial) {
    const bool half = trial % 2 == 1;
    const poplar::Type type = half ? poplar::HALF : poplar::FLOAT;
    const std::size_t rows = randomSize(rng, 1, 9), cols = randomSize(rng, 1, 300);
    Harness h;
    poplar::Tensor x = h.input(type, {rows, cols}, "x");
    poplar::Tensor bias = h.input(type, {cols}, "bias");
    poplar::Tensor gate = h.input(type, {rows, 1}, "gate");
    const auto xv = randomValues(rng, rows * cols, -3, 3, half);
    const auto bv = randomValues(rng, cols, -1, 1, half);
    const auto gv = randomValues(rng, rows, 0, 2, half);
    h.set("x", xv);
    h.set("bias", bv);
    h.set("gate", gv);
    // gate * tanh(x + bias) - 0.5, the constant taking the tensors' type.
    poplar::Tensor y = popops::map(h.graph, pe::Sub(pe::Mul(pe::_3, pe::Tanh(pe::Add(pe::_1, pe::_2))), pe::Const(0.5f)),
                                   {x, bias, gate}, h.prog, "gated");
    ASSERT_EQ(y.elementType(), type);
    h.readBack("y", y);
    h.run();
    std::vector<double> expected(rows * cols), bound(rows * cols);
    auto r = [half](double v) { return half ? toHalf(v) : v; };
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) {
        const double s = r(xv[i * cols + j] + static_cast<double>(bv[j]));
        const double t = r(std::tanh(s));
        const double p = r(gv[i] * t);
        expected[i * cols + j] = r(p - 0.5);
        // Float: four operations within 2 float units each of values below 4. Half: the device's
        // float tanh may round to a neighbouring half of the float64 one (2 half units of |t| <= 1),
        // propagated through the multiply by a gate below 2 and the subtraction: 3 half units of 4.
        bound[i * cols + j] = half ? 3 * kHalfUnit * 4 : 8 * kFloatUnit * 4;
      }
    expectWithin(h.read("y", rows * cols), expected, bound, std::string(half ? "half" : "float") + " trial " +
                                                               std::to_string(trial));
  }
}

TEST(ElementWiseOp, InPlaceOnAViewWritesOnlyThatView) {
  Harness h;
  poplar::Tensor v = h.input(poplar::HALF, {4, 6}, "v");
  std::vector<float> values(24);
  for (std::size_t i = 0; i < 24; ++i)
    values[i] = static_cast<float>(i);
  h.set("v", values);
  // Column 2 of every row (a strided view): x -> x * 2 + 1000. In half, 1000 + 2x rounds to
  // spacing 0.5 (512..1024) or 1 (1024..2048), and every value here is a whole number: exact.
  popops::mapInPlace(h.graph, pe::_1 * 2 + 1000, {v.slice(2, 3, 1)}, h.prog, "strided");
  h.readBack("out", v);
  h.run();
  const auto out = h.read("out", 24);
  for (std::size_t i = 0; i < 24; ++i)
    EXPECT_EQ(out[i], i % 6 == 2 ? 2.0f * i + 1000 : static_cast<float>(i)) << i;
}

TEST(ElementWiseOp, InputsOverlappingTheOutputAtAShiftReadTheOldValues) {
  Harness h;
  poplar::Tensor v = h.input(poplar::FLOAT, {600}, "v");
  std::vector<float> values(600);
  for (std::size_t i = 0; i < 600; ++i)
    values[i] = static_cast<float>(i);
  h.set("v", values);
  // v[1:600] = v[1:600] + v[0:599]: every element must see its left neighbour's old value, also
  // across the evaluator's chunks of 256.
  popops::mapInPlace(h.graph, pe::_1 + pe::_2, {v.slice(1, 600), v.slice(0, 599)}, h.prog, "shifted");
  h.readBack("out", v);
  h.run();
  const auto out = h.read("out", 600);
  EXPECT_EQ(out[0], 0.0f);
  for (std::size_t i = 1; i < 600; ++i)
    ASSERT_EQ(out[i], static_cast<float>(2 * i - 1)) << i;
}

TEST(ElementWiseOp, NamedWrappersAndConstantsMatchFloat64) {
  Harness h;
  poplar::Tensor a = h.input(poplar::FLOAT, {5}, "a");
  poplar::Tensor b = h.input(poplar::FLOAT, {5}, "b");
  h.set("a", {0.25f, 1.0f, 4.0f, 9.0f, 2.0f});
  h.set("b", {1.0f, -2.0f, 3.0f, 0.5f, 2.0f});
  poplar::Tensor s = popops::add(h.graph, a, b, h.prog, "add");
  poplar::Tensor q = popops::rsqrt(h.graph, a, h.prog, "rsqrt");
  poplar::Tensor m = popops::max(h.graph, b, 1.5f, h.prog, "max");
  poplar::Tensor d = popops::div(h.graph, 1.0f, b, h.prog, "recip");
  popops::mulInPlace(h.graph, a, 3, h.prog, "triple");  // an int constant adopts float
  poplar::Tensor cmp = popops::map(h.graph, pe::BinaryOpType::GREATER_THAN, a, b, h.prog, "gt");
  ASSERT_EQ(cmp.elementType(), poplar::BOOL);
  h.readBack("s", s);
  h.readBack("q", q);
  h.readBack("m", m);
  h.readBack("d", d);
  h.readBack("a3", a);
  h.readBack("cmp", cmp);
  h.run();
  EXPECT_EQ(h.read("s", 5), (std::vector<float>{1.25f, -1.0f, 7.0f, 9.5f, 4.0f}));
  const auto q5 = h.read("q", 5);
  for (std::size_t i = 0; i < 5; ++i)  // one rsqrt: within 2 float units
    EXPECT_NEAR(q5[i], 1 / std::sqrt(std::vector<double>{0.25, 1, 4, 9, 2}[i]), 2 * kFloatUnit * 2);
  EXPECT_EQ(h.read("m", 5), (std::vector<float>{1.5f, 1.5f, 3.0f, 1.5f, 2.0f}));
  EXPECT_EQ(h.read("d", 5), (std::vector<float>{1.0f, -0.5f, 1.0f / 3.0f, 2.0f, 0.5f}));
  EXPECT_EQ(h.read("a3", 5), (std::vector<float>{0.75f, 3.0f, 12.0f, 27.0f, 6.0f}));
  // The comparison was added after the tripling, so it runs on the tripled a (6 > 2 in the last).
  EXPECT_EQ(h.read("cmp", 5), (std::vector<float>{0, 1, 1, 1, 1}));
}

TEST(ElementWiseOp, CastRoundsToHalfTruncatesToIntAndFillZeroSetEveryElement) {
  Harness h;
  poplar::Tensor f = h.input(poplar::FLOAT, {4}, "f");
  h.set("f", {1.0f + 0x1p-11f, -2.7f, 70000.0f, 3.5f});
  poplar::Tensor toHalfT = popops::cast(h.graph, f, poplar::HALF, h.prog, "toHalf");
  poplar::Tensor toInt = popops::cast(h.graph, f, poplar::INT, h.prog, "toInt");
  poplar::Tensor filled = h.input(poplar::HALF, {3}, "filled");
  poplar::Tensor zeroed = h.input(poplar::FLOAT, {3}, "zeroed");
  h.set("filled", {1, 2, 3});
  h.set("zeroed", {1, 2, 3});
  popops::fill(h.graph, filled, h.prog, 0.1f, "fill");
  popops::zero(h.graph, zeroed, h.prog, "zero");
  h.readBack("h", toHalfT);
  h.readBack("i", toInt);
  h.readBack("fo", filled);
  h.readBack("zo", zeroed);
  h.run();
  const auto hv = h.read("h", 4);
  EXPECT_EQ(hv[0], 1.0f);  // exactly halfway between 1 and 1 + 2^-10: ties to even
  EXPECT_EQ(hv[1], toHalf(-2.7f));
  EXPECT_TRUE(std::isinf(hv[2]) || hv[2] == 65504.0f);  // past the half range: the FP behaviour decides
  EXPECT_EQ(hv[3], 3.5f);
  EXPECT_EQ(h.read("i", 4), (std::vector<float>{1, -2, 70000, 3}));
  EXPECT_EQ(h.read("fo", 3), std::vector<float>(3, toHalf(0.1f)));
  EXPECT_EQ(h.read("zo", 3), std::vector<float>(3, 0.0f));
}

TEST(ElementWiseOp, ScaledAddFormsComputeInFloatAndRoundOnce) {
  Harness h;
  poplar::Tensor a1 = h.input(poplar::FLOAT, {3}, "a1");
  poplar::Tensor a2 = h.input(poplar::FLOAT, {3}, "a2");
  poplar::Tensor a3 = h.input(poplar::HALF, {3}, "a3");
  poplar::Tensor b = h.input(poplar::FLOAT, {3}, "b");
  poplar::Tensor bh = h.input(poplar::HALF, {3}, "bh");
  poplar::Tensor scale = h.input(poplar::FLOAT, {}, "scale");
  for (const char *n : {"a1", "a2"})
    h.set(n, {1, 2, 3});
  h.set("a3", {1024, 1024, 1024});
  h.set("b", {10, 20, 30});
  h.set("bh", {0.25f, 0.5f, 0.75f});
  h.set("scale", {0.5f});
  popops::scaledAddTo(h.graph, a1, b, scale, h.prog, "axpy");                   // a1 += 0.5 b
  popops::scaledAddTo(h.graph, a2, 0.9f, b, 0.1f, h.prog,
                      popops::ScaledAddSpecialisation::X_MINUS_AX_PLUS_BY, "xmax");  // a2 = a2 - 0.9 a2 + 0.1 b
  // In half, 1024 + 2 * 0.25 = 1024.5 is not representable (spacing 1): one rounding of the float
  // result gives 1024 (tie to even) and 1025, 1026 for the others.
  popops::scaledAddTo(h.graph, a3, bh, 2.0f, h.prog, "half");
  h.readBack("o1", a1);
  h.readBack("o2", a2);
  h.readBack("o3", a3);
  h.run();
  EXPECT_EQ(h.read("o1", 3), (std::vector<float>{6, 12, 18}));
  const auto o2 = h.read("o2", 3);
  for (std::size_t i = 0; i < 3; ++i)  // two products and a sum of values below 4: 4 float units
    EXPECT_NEAR(o2[i], 0.1 * (i + 1) + 0.1 * 10 * (i + 1), 4 * kFloatUnit * 4);
  EXPECT_EQ(h.read("o3", 3), (std::vector<float>{1024, 1025, 1026}));
}

TEST(ElementWiseOp, TypeAndShapeErrorsNameTheOp) {
  Harness h;
  poplar::Tensor a = h.input(poplar::FLOAT, {3, 4}, "a");
  poplar::Tensor b = h.input(poplar::HALF, {3, 4}, "b");
  poplar::Tensor c = h.input(poplar::FLOAT, {5}, "c");
  try {
    popops::add(h.graph, a, b, h.prog, "block3/residual");
    FAIL() << "float + half was accepted";
  } catch (const poplar::poplar_error &e) {
    EXPECT_NE(std::string(e.what()).find("block3/residual"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float and half"), std::string::npos) << e.what();
  }
  EXPECT_THROW(popops::add(h.graph, a, c, h.prog, "x"), poplar::poplar_error);
  EXPECT_THROW(popops::map(h.graph, pe::_2 + pe::_1, {a}, h.prog, "x"), poplar::poplar_error);
}
