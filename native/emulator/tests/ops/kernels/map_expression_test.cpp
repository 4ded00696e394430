#include "kernels/map_expression.h"
#include "op_reference.h"

#include <functional>
#include <stdexcept>

using namespace poplar_emulator;
using namespace ops_test;
using popops::expr::BinaryOpType;
using popops::expr::TernaryOpType;
using popops::expr::UnaryOpType;

namespace {

// Builds MapNode lists in the tests.
struct Tree {
  std::vector<MapNode> nodes;
  std::size_t add(MapNode node) {
    nodes.push_back(node);
    return nodes.size() - 1;
  }
  std::size_t input(unsigned i) {
    MapNode n;
    n.kind = MapNode::Kind::Input;
    n.input = i;
    return add(n);
  }
  std::size_t constant(double v, ElementKind kind = ElementKind::Float, bool fixed = false) {
    MapNode n;
    n.kind = MapNode::Kind::Constant;
    n.constant = v;
    n.type = kind;
    n.typeFixed = fixed;
    return add(n);
  }
  std::size_t unary(UnaryOpType op, std::size_t a) {
    MapNode n;
    n.kind = MapNode::Kind::Unary;
    n.unaryOp = op;
    n.args[0] = a;
    return add(n);
  }
  std::size_t binary(BinaryOpType op, std::size_t a, std::size_t b) {
    MapNode n;
    n.kind = MapNode::Kind::Binary;
    n.binaryOp = op;
    n.args[0] = a;
    n.args[1] = b;
    return add(n);
  }
  std::size_t ternary(TernaryOpType op, std::size_t a, std::size_t b, std::size_t c) {
    MapNode n;
    n.kind = MapNode::Kind::Ternary;
    n.ternaryOp = op;
    n.args[0] = a;
    n.args[1] = b;
    n.args[2] = c;
    return add(n);
  }
  std::size_t cast(std::size_t a, ElementKind to) {
    MapNode n;
    n.kind = MapNode::Kind::Cast;
    n.type = to;
    n.args[0] = a;
    return add(n);
  }
};

std::vector<std::size_t> stridesOf(const std::vector<std::size_t> &shape, const std::vector<std::size_t> &outShape) {
  std::vector<std::size_t> strides(outShape.size(), 0);
  std::size_t stride = 1;
  const std::size_t offset = outShape.size() - shape.size();
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1)
      strides[d + offset] = stride;
    stride *= shape[d];
  }
  return strides;
}

// Element o of the output, read from a broadcast input.
double broadcastRead(const std::vector<float> &data, const std::vector<std::size_t> &shape,
                     const std::vector<std::size_t> &outShape, std::size_t o) {
  const auto strides = stridesOf(shape, outShape);
  std::size_t offset = 0;
  for (std::size_t d = outShape.size(); d-- > 0;) {
    offset += (o % outShape[d]) * strides[d];
    o /= outShape[d];
  }
  return data[offset];
}

// HALF outputs leave the evaluator in float; the engine's write-back rounds them (to nearest even here).
void roundAsWriteBack(std::vector<float> &values) {
  for (float &v : values)
    v = toHalf(v);
}

} // namespace

// tanh(_1 * _2 + 3) - sqrt(_3): inputs broadcast ([a,b,c], [b,1], [c]), float and half. The float64
// reference rounds to half after each operation when the type is half, as the device would.
TEST(MapExpression, BroadcastExpressionMatchesFloat64ReferenceInFloatAndHalf) {
  auto rng = testRng();
  for (int trial = 0; trial < 30; ++trial) {
    const bool half = trial % 2 == 1;
    const ElementKind kind = half ? ElementKind::Half : ElementKind::Float;
    const std::size_t a = randomSize(rng, 1, 7), b = randomSize(rng, 1, 40), c = randomSize(rng, 1, 30);
    const std::vector<std::size_t> outShape = {a, b, c}, shape2 = {b, 1}, shape3 = {c};
    const auto x1 = randomValues(rng, a * b * c, -2, 2, half);
    const auto x2 = randomValues(rng, b, -2, 2, half);
    const auto x3 = randomValues(rng, c, 0, 4, half);
    Tree t;
    const std::size_t root = t.binary(
        BinaryOpType::SUBTRACT,
        t.unary(UnaryOpType::TANH, t.binary(BinaryOpType::ADD, t.binary(BinaryOpType::MULTIPLY, t.input(0), t.input(1)),
                                            t.constant(3))),
        t.unary(UnaryOpType::SQRT, t.input(2)));
    const MapProgram program(t.nodes, {root}, {kind, kind, kind});
    ASSERT_EQ(program.resultKinds()[0], kind);
    std::vector<float> out(a * b * c);
    program.run({{x1.data(), kind, outShape}, {x2.data(), kind, shape2}, {x3.data(), kind, shape3}}, outShape,
                {{out.data(), kind}});
    if (half)
      roundAsWriteBack(out);
    std::vector<double> expected(out.size()), bound(out.size());
    auto r = [half](double v) { return half ? toHalf(v) : v; };
    for (std::size_t o = 0; o < out.size(); ++o) {
      const double p = r(broadcastRead(x1, outShape, outShape, o) * broadcastRead(x2, shape2, outShape, o));
      const double s = r(p + 3);
      const double th = r(std::tanh(s));
      const double sq = r(std::sqrt(broadcastRead(x3, shape3, outShape, o)));
      expected[o] = r(th - sq);
      // Float: each of five operations within 2 float units of its result (glibc's tanhf and sqrtf
      // are within 1 ulp), on values below 6 in magnitude. Half: the device's float operation and
      // the reference's float64 one may round to neighbouring halves, one half unit of each
      // intermediate (below 6) propagated through tanh's slope below 1: three half units of 6.
      bound[o] = half ? 3 * kHalfUnit * 6 : 10 * kFloatUnit * 6;
    }
    expectWithin(out, expected, bound, std::string(half ? "half" : "float") + " trial " + std::to_string(trial));
  }
}

TEST(MapExpression, HalfResultsAreRoundedAfterEveryOperation) {
  // (x + 1024) - 1024 in half: 1024 + 0.3 rounds to 1024 (spacing 1), so the result is exactly 0;
  // with one rounding at the end it would be 0.3.
  Tree t;
  const std::size_t root =
      t.binary(BinaryOpType::SUBTRACT, t.binary(BinaryOpType::ADD, t.input(0), t.constant(1024)), t.constant(1024));
  const float x = toHalf(0.3f);
  float out = -1;
  MapProgram(t.nodes, {root}, {ElementKind::Half}).run({{&x, ElementKind::Half, {1}}}, {1}, {{&out, ElementKind::Half}});
  EXPECT_EQ(out, 0.0f);
  MapProgram(t.nodes, {root}, {ElementKind::Float}).run({{&x, ElementKind::Float, {1}}}, {1}, {{&out, ElementKind::Float}});
  EXPECT_NEAR(out, x, 1e-4);  // float keeps it: 1024.3 has float spacing 2^-13
}

TEST(MapExpression, ARepeatedSubexpressionIsComputedOnceInFloatAndEveryTimeInHalf) {
  // sqrt(_1 + _2) * sqrt(_1 + _2) and (_1 + _2) as a second result: the two inputs, one add, one sqrt and one
  // multiply in float. Half keeps every operation, as a root's result is rounded apart from an operand's.
  Tree t;
  auto sum = [&] { return t.binary(BinaryOpType::ADD, t.input(0), t.input(1)); };
  const std::size_t root = t.binary(BinaryOpType::MULTIPLY, t.unary(UnaryOpType::SQRT, sum()),
                                    t.unary(UnaryOpType::SQRT, sum()));
  const std::size_t second = sum();
  const MapProgram floats(t.nodes, {root, second}, {ElementKind::Float, ElementKind::Float});
  EXPECT_EQ(floats.operationCount(), 5u);
  EXPECT_EQ(MapProgram(t.nodes, {root, second}, {ElementKind::Half, ElementKind::Half}).operationCount(), 8u);
  const std::vector<float> a = {1.0f, 2.5f, 7.0f}, b = {3.0f, 0.5f, 2.0f};
  std::vector<float> product(3), total(3);
  floats.run({{a.data(), ElementKind::Float, {3}}, {b.data(), ElementKind::Float, {3}}}, {3},
             {{product.data(), ElementKind::Float}, {total.data(), ElementKind::Float}});
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(total[i], a[i] + b[i]);
    EXPECT_EQ(product[i], std::sqrt(a[i] + b[i]) * std::sqrt(a[i] + b[i]));
  }
}

TEST(MapExpression, InPlaceResultsReadEveryInputBeforeAnyIsOverwritten) {
  // mapInPlace({_2, _1 + _2}, {a, b}) over 3000 elements (several chunks): a takes b's old values and b the old sum,
  // although the inputs are read in place and a's result is b itself.
  Tree t;
  const std::size_t first = t.input(1);
  const std::size_t second = t.binary(BinaryOpType::ADD, t.input(0), t.input(1));
  const MapProgram program(t.nodes, {first, second}, {ElementKind::Float, ElementKind::Float});
  const std::size_t n = 3000;
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f * static_cast<float>(i) + 1.0f;
  }
  const std::vector<float> oldA = a, oldB = b;
  program.run({{a.data(), ElementKind::Float, {n}}, {b.data(), ElementKind::Float, {n}}}, {n},
              {{a.data(), ElementKind::Float}, {b.data(), ElementKind::Float}});
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(a[i], oldB[i]) << i;
    ASSERT_EQ(b[i], oldA[i] + oldB[i]) << i;
  }
}

TEST(MapExpression, EveryFloatUnaryOperationMatchesFloat64) {
  auto rng = testRng();
  const std::vector<std::pair<UnaryOpType, std::function<double(double)>>> ops = {
      {UnaryOpType::ABSOLUTE, [](double x) { return std::fabs(x); }},
      {UnaryOpType::CEIL, [](double x) { return std::ceil(x); }},
      {UnaryOpType::COS, [](double x) { return std::cos(x); }},
      {UnaryOpType::ERF, [](double x) { return std::erf(x); }},
      {UnaryOpType::EXPONENT, [](double x) { return std::exp(x); }},
      {UnaryOpType::EXPONENT_MINUS_ONE, [](double x) { return std::expm1(x); }},
      {UnaryOpType::FLOOR, [](double x) { return std::floor(x); }},
      {UnaryOpType::GELU_ERF, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {UnaryOpType::INVERSE, [](double x) { return 1 / x; }},
      {UnaryOpType::LOGARITHM, [](double x) { return std::log(std::fabs(x)); }},
      {UnaryOpType::NEGATE, [](double x) { return -x; }},
      {UnaryOpType::RELU, [](double x) { return x > 0 ? x : 0; }},
      {UnaryOpType::SIGNUM, [](double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }},
      {UnaryOpType::SIN, [](double x) { return std::sin(x); }},
      {UnaryOpType::TANH, [](double x) { return std::tanh(x); }},
      {UnaryOpType::ROUND, [](double x) { return std::round(x); }},
      {UnaryOpType::SQRT, [](double x) { return std::sqrt(std::fabs(x)); }},
      {UnaryOpType::SQUARE, [](double x) { return x * x; }},
      {UnaryOpType::SIGMOID, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {UnaryOpType::RSQRT, [](double x) { return 1 / std::sqrt(std::fabs(x)); }},
      {UnaryOpType::TRUNC, [](double x) { return std::trunc(x); }},
  };
  for (const auto &[op, reference] : ops) {
    for (bool half : {false, true}) {
      const ElementKind kind = half ? ElementKind::Half : ElementKind::Float;
      const bool positiveOnly = op == UnaryOpType::LOGARITHM || op == UnaryOpType::SQRT || op == UnaryOpType::RSQRT;
      const auto x = randomValues(rng, 300, positiveOnly ? 0.25f : -3.0f, 3.0f, half);
      Tree t;
      const std::size_t root = t.unary(op, t.input(0));
      std::vector<float> out(x.size());
      MapProgram(t.nodes, {root}, {kind}).run({{x.data(), kind, {x.size()}}}, {x.size()}, {{out.data(), kind}});
      if (half)
        roundAsWriteBack(out);
      std::vector<double> expected(x.size()), bound(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        expected[i] = half ? toHalf(reference(x[i])) : reference(x[i]);
        // glibc's float functions are within 2 ulp (4 units) of the exact value of their float
        // argument; composites (GELU_ERF, SIGMOID) also round an inner argument, which the
        // function's condition number |x f'(x) / f(x)| amplifies. In half, that float error may move
        // the result to the neighbouring half: one half ulp, 2 half units, or 2^-24 when subnormal.
        const double h = 1e-6, fx = reference(x[i]);
        const double slope = (reference(x[i] + h) - reference(x[i] - h)) / (2 * h);
        const double condition = fx == 0 ? 0 : std::fabs(x[i] * slope / fx);
        bound[i] = half ? 2 * kHalfUnit * std::fabs(expected[i]) + 0x1p-24
                        : (4 + 4 * condition) * kFloatUnit * std::fabs(fx) + 1e-30;
      }
      expectWithin(out, expected, bound, std::string("unary op ") + std::to_string(static_cast<int>(op)) +
                                             (half ? " half" : " float"));
    }
  }
}

TEST(MapExpression, ComparisonsGiveBoolAndSelectPicksByCondition) {
  // select(_1, _2, _1 > _2) == max(_1, _2), and the bool output holds the comparison.
  Tree t;
  const std::size_t gt = t.binary(BinaryOpType::GREATER_THAN, t.input(0), t.input(1));
  const std::size_t sel = t.ternary(TernaryOpType::SELECT, t.input(0), t.input(1), gt);
  const MapProgram program(t.nodes, {sel, gt}, {ElementKind::Float, ElementKind::Float});
  ASSERT_EQ(program.resultKinds()[1], ElementKind::Bool);
  const std::vector<float> a = {1, 5, -2, 3}, b = {2, 4, -3, 3};
  std::vector<float> out(4);
  std::vector<std::uint8_t> flags(4);
  program.run({{a.data(), ElementKind::Float, {4}}, {b.data(), ElementKind::Float, {4}}}, {4},
              {{out.data(), ElementKind::Float}, {flags.data(), ElementKind::Bool}});
  EXPECT_EQ(out, (std::vector<float>{2, 5, -2, 3}));
  EXPECT_EQ(flags, (std::vector<std::uint8_t>{0, 1, 1, 0}));
}

TEST(MapExpression, IntegerArithmeticWrapsTo32BitsAndCastsTruncate) {
  Tree t;
  // (_1 + 1) for unsigned: 0xFFFFFFFF + 1 wraps to 0. cast<int>(_2) truncates toward zero.
  const std::size_t inc = t.binary(BinaryOpType::ADD, t.input(0), t.constant(1, ElementKind::Int));
  const std::size_t cast = t.cast(t.input(1), ElementKind::Int);
  const MapProgram program(t.nodes, {inc, cast}, {ElementKind::UnsignedInt, ElementKind::Float});
  EXPECT_EQ(program.resultKinds()[0], ElementKind::UnsignedInt);  // the constant adopts _1's type
  const std::vector<std::uint32_t> u = {0xFFFFFFFFu, 41u};
  const std::vector<float> f = {-2.7f, 3.9f};
  std::vector<std::uint32_t> incOut(2);
  std::vector<std::int32_t> castOut(2);
  program.run({{u.data(), ElementKind::UnsignedInt, {2}}, {f.data(), ElementKind::Float, {2}}}, {2},
              {{incOut.data(), ElementKind::UnsignedInt}, {castOut.data(), ElementKind::Int}});
  EXPECT_EQ(incOut, (std::vector<std::uint32_t>{0u, 42u}));
  EXPECT_EQ(castOut, (std::vector<std::int32_t>{-2, 3}));
}

TEST(MapExpression, HalfIntermediatesPastTheHalfRangeAreLeftForTheWriteBack) {
  // (x * 1000) - 1: x * 1000 = 100000 is past the half range. It stays 100000 (not infinity), so the
  // engine's write-back sees the overflow and applies the floating-point behaviour.
  Tree t;
  const std::size_t root =
      t.binary(BinaryOpType::SUBTRACT, t.binary(BinaryOpType::MULTIPLY, t.input(0), t.constant(1000)), t.constant(1));
  const float x = 100.0f;
  float out = 0;
  MapProgram(t.nodes, {root}, {ElementKind::Half}).run({{&x, ElementKind::Half, {1}}}, {1}, {{&out, ElementKind::Half}});
  EXPECT_EQ(out, 99999.0f);
}

TEST(MapExpression, TypeErrorsNameTheProblem) {
  Tree t;
  const std::size_t root = t.unary(UnaryOpType::SQRT, t.input(0));
  EXPECT_THROW(MapProgram(t.nodes, {root}, {ElementKind::Int}), std::invalid_argument);
  Tree mixed;
  const std::size_t add = mixed.binary(BinaryOpType::ADD, mixed.input(0), mixed.input(1));
  try {
    MapProgram(mixed.nodes, {add}, {ElementKind::Float, ElementKind::Half});
    FAIL() << "mixed float and half operands were accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("float and half"), std::string::npos) << e.what();
  }
  EXPECT_THROW(broadcastShape({{3, 4}, {5}}), std::invalid_argument);
  EXPECT_EQ(broadcastShape({{3, 1}, {4}, {}}), (std::vector<std::size_t>{3, 4}));
}
