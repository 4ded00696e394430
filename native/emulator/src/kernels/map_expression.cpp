#include "kernels/map_expression.h"

#include "kernels/part_runner.h"

#include "core/Half.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace poplar_emulator {

using popops::expr::BinaryOpType;
using popops::expr::TernaryOpType;
using popops::expr::UnaryOpType;

namespace {

bool isInteger(ElementKind kind) { return kind == ElementKind::Int || kind == ElementKind::UnsignedInt; }

[[noreturn]] void typeError(const std::string &what) { throw std::invalid_argument("popops::map: " + what); }

bool isComparison(BinaryOpType op) {
  switch (op) {
  case BinaryOpType::EQUAL:
  case BinaryOpType::NOT_EQUAL:
  case BinaryOpType::GREATER_THAN:
  case BinaryOpType::GREATER_THAN_EQUAL:
  case BinaryOpType::LESS_THAN:
  case BinaryOpType::LESS_THAN_EQUAL: return true;
  default: return false;
  }
}

// Which operand kinds each operation accepts.
bool unaryAccepts(UnaryOpType op, ElementKind kind) {
  switch (op) {
  case UnaryOpType::ABSOLUTE:
  case UnaryOpType::NEGATE:
  case UnaryOpType::SIGNUM:
  case UnaryOpType::SQUARE: return kind != ElementKind::Bool;
  case UnaryOpType::LOGICAL_NOT: return kind == ElementKind::Bool;
  case UnaryOpType::BITWISE_NOT:
  case UnaryOpType::POPCOUNT:
  case UnaryOpType::COUNT_LEADING_ZEROS: return isInteger(kind);
  default: return isFloating(kind);
  }
}

bool binaryAccepts(BinaryOpType op, ElementKind kind) {
  switch (op) {
  case BinaryOpType::ADD:
  case BinaryOpType::SUBTRACT:
  case BinaryOpType::MULTIPLY:
  case BinaryOpType::DIVIDE:
  case BinaryOpType::REMAINDER:
  case BinaryOpType::MAXIMUM:
  case BinaryOpType::MINIMUM:
  case BinaryOpType::GREATER_THAN:
  case BinaryOpType::GREATER_THAN_EQUAL:
  case BinaryOpType::LESS_THAN:
  case BinaryOpType::LESS_THAN_EQUAL: return kind != ElementKind::Bool;
  case BinaryOpType::EQUAL:
  case BinaryOpType::NOT_EQUAL: return true;
  case BinaryOpType::LOGICAL_AND:
  case BinaryOpType::LOGICAL_OR: return kind == ElementKind::Bool;
  case BinaryOpType::BITWISE_AND:
  case BinaryOpType::BITWISE_OR:
  case BinaryOpType::BITWISE_XOR:
  case BinaryOpType::BITWISE_XNOR:
  case BinaryOpType::SHIFT_LEFT:
  case BinaryOpType::SHIFT_RIGHT:
  case BinaryOpType::SHIFT_RIGHT_SIGN_EXTEND: return isInteger(kind);
  case BinaryOpType::ATAN2:
  case BinaryOpType::POWER:
  case BinaryOpType::INV_STD_DEV_TO_VARIANCE:
  case BinaryOpType::VARIANCE_TO_INV_STD_DEV: return isFloating(kind);
  }
  return false;
}

ElementKind unaryResult(UnaryOpType op, ElementKind operand) {
  switch (op) {
  case UnaryOpType::IS_FINITE:
  case UnaryOpType::IS_INF:
  case UnaryOpType::IS_NAN: return ElementKind::Bool;
  default: return operand;
  }
}

// Register storage: floating kinds in float lanes, the others in int64 lanes holding the exact value; `width`
// lanes each (a chunk, or fewer for a smaller map). Registers are a cache line more than a chunk apart: at a
// multiple of 4 KiB from the inputs' pages, a register's stores would alias the loads from them.
// A float input read whole is not copied: its register reads the chunk in place (`direct`).
struct Registers {
  static constexpr std::size_t kPad = 16;
  std::size_t width = 0;
  std::vector<float> f;
  std::vector<std::int64_t> i;
  std::vector<const float *> direct;
  void resize(std::size_t registers, std::size_t lanes) {
    width = lanes;
    f.resize(registers * (width + kPad));
    i.resize(registers * (width + kPad));
    direct.assign(registers, nullptr);
  }
  float *floats(std::size_t reg) { return f.data() + reg * (width + kPad); }
  std::int64_t *ints(std::size_t reg) { return i.data() + reg * (width + kPad); }
  const float *read(std::size_t reg) { return direct[reg] ? direct[reg] : floats(reg); }
};

class Compiler {
public:
  Compiler(const std::vector<MapNode> &nodes, const std::vector<ElementKind> &inputKinds,
           std::vector<MapProgram::Instruction> &out, std::vector<ElementKind> &registerKinds)
      : nodes_(nodes), inputKinds_(inputKinds), out_(out), registerKinds_(registerKinds) {}

  // Returns the register holding node's value. hint is the kind an untyped constant adopts.
  std::size_t compile(std::size_t nodeIndex, const ElementKind *hint, unsigned depth = 0) {
    if (nodeIndex >= nodes_.size())
      typeError("expression node " + std::to_string(nodeIndex) + " out of range");
    if (depth > 1000)
      typeError("expression nested deeper than 1000 levels");
    const MapNode &node = nodes_[nodeIndex];
    MapProgram::Instruction ins{};
    ins.kind = node.kind;
    switch (node.kind) {
    case MapNode::Kind::Input: {
      if (node.input >= inputKinds_.size())
        typeError("placeholder _" + std::to_string(node.input + 1) + " used but only " +
                  std::to_string(inputKinds_.size()) + " tensors given");
      for (const auto &[input, reg] : loaded_)
        if (input == node.input)
          return reg;
      ins.input = node.input;
      ins.resultKind = ins.operandKind = inputKinds_[node.input];
      const std::size_t reg = emit(ins);
      loaded_.emplace_back(node.input, reg);
      return reg;
    }
    case MapNode::Kind::Constant:
      ins.constant = node.constant;
      ins.resultKind = ins.operandKind = (hint && !node.typeFixed) ? *hint : node.type;
      return emit(ins);
    case MapNode::Kind::Cast: {
      const std::size_t a = compile(node.args[0], nullptr, depth + 1);
      ins.operandKind = registerKinds_[a];
      ins.resultKind = node.type;
      ins.src[0] = a;
      return emit(ins);
    }
    case MapNode::Kind::Unary: {
      const std::size_t a = compile(node.args[0], nullptr, depth + 1);
      const ElementKind kind = registerKinds_[a];
      if (!unaryAccepts(node.unaryOp, kind))
        typeError(std::string("unary operation ") + std::to_string(static_cast<int>(node.unaryOp)) +
                  " does not take " + elementKindName(kind) + " operands");
      ins.unaryOp = node.unaryOp;
      ins.operandKind = kind;
      ins.resultKind = unaryResult(node.unaryOp, kind);
      ins.src[0] = a;
      return emit(ins);
    }
    case MapNode::Kind::Binary: {
      std::size_t regs[2];
      compileSameKind(node, 2, hint, depth, regs);
      const ElementKind kind = registerKinds_[regs[0]];
      if (!binaryAccepts(node.binaryOp, kind))
        typeError(std::string("binary operation ") + std::to_string(static_cast<int>(node.binaryOp)) +
                  " does not take " + elementKindName(kind) + " operands");
      ins.binaryOp = node.binaryOp;
      ins.operandKind = kind;
      ins.resultKind = isComparison(node.binaryOp) ? ElementKind::Bool : kind;
      ins.src[0] = regs[0];
      ins.src[1] = regs[1];
      return emit(ins);
    }
    case MapNode::Kind::Ternary: {
      std::size_t regs[3];
      if (node.ternaryOp == TernaryOpType::SELECT) {
        compileSameKind(node, 2, hint, depth, regs);
        const ElementKind boolKind = ElementKind::Bool;
        regs[2] = compile(node.args[2], &boolKind, depth + 1);
        if (registerKinds_[regs[2]] != ElementKind::Bool)
          typeError(std::string("SELECT's condition must be bool, not ") + elementKindName(registerKinds_[regs[2]]));
      } else {
        compileSameKind(node, 3, hint, depth, regs);
        if (registerKinds_[regs[0]] == ElementKind::Bool)
          typeError("CLAMP does not take bool operands");
      }
      ins.ternaryOp = node.ternaryOp;
      ins.operandKind = ins.resultKind = registerKinds_[regs[0]];
      std::copy(regs, regs + 3, ins.src);
      return emit(ins);
    }
    }
    typeError("unknown expression node kind");
  }

private:
  bool isUntypedConstant(std::size_t nodeIndex) const {
    return nodeIndex < nodes_.size() && nodes_[nodeIndex].kind == MapNode::Kind::Constant &&
           !nodes_[nodeIndex].typeFixed;
  }

  // Compiles the first count arguments, which must share a kind; untyped constants adopt the
  // kind of the first argument that is not one (or the hint when all are).
  void compileSameKind(const MapNode &node, std::size_t count, const ElementKind *hint, unsigned depth,
                       std::size_t *regs) {
    std::size_t first = count;
    for (std::size_t a = 0; a < count; ++a)
      if (!isUntypedConstant(node.args[a])) {
        first = a;
        break;
      }
    ElementKind kind{};
    const ElementKind *adopt = hint;
    if (first < count) {
      regs[first] = compile(node.args[first], nullptr, depth + 1);
      kind = registerKinds_[regs[first]];
      adopt = &kind;
    }
    for (std::size_t a = 0; a < count; ++a)
      if (a != first)
        regs[a] = compile(node.args[a], adopt, depth + 1);
    for (std::size_t a = 1; a < count; ++a)
      if (registerKinds_[regs[a]] != registerKinds_[regs[0]])
        typeError(std::string("operands of one operation have different types (") +
                  elementKindName(registerKinds_[regs[0]]) + " and " + elementKindName(registerKinds_[regs[a]]) +
                  "); cast one of them");
  }

  // An instruction that repeats an earlier one (the same operation on the same registers) reuses its register:
  // expressions written as trees repeat their shared parts. Not for HALF results, which are rounded differently
  // as a root's result and as an operand.
  std::size_t emit(MapProgram::Instruction ins) {
    if (ins.resultKind != ElementKind::Half)
      for (const MapProgram::Instruction &e : out_)
        if (sameOperation(e, ins))
          return e.dst;
    ins.dst = registerKinds_.size();
    registerKinds_.push_back(ins.resultKind);
    out_.push_back(ins);
    return ins.dst;
  }

  static bool sameOperation(const MapProgram::Instruction &a, const MapProgram::Instruction &b) {
    return a.kind == b.kind && a.unaryOp == b.unaryOp && a.binaryOp == b.binaryOp && a.ternaryOp == b.ternaryOp &&
           a.resultKind == b.resultKind && a.operandKind == b.operandKind && a.src[0] == b.src[0] &&
           a.src[1] == b.src[1] && a.src[2] == b.src[2] && a.input == b.input &&
           std::memcmp(&a.constant, &b.constant, sizeof a.constant) == 0;
  }

  const std::vector<MapNode> &nodes_;
  const std::vector<ElementKind> &inputKinds_;
  std::vector<MapProgram::Instruction> &out_;
  std::vector<ElementKind> &registerKinds_;
  std::vector<std::pair<unsigned, std::size_t>> loaded_;
};

// Values are converted into a register's lanes; ints wrap to 32 bits like the device's.
std::int64_t wrapInt(ElementKind kind, std::uint64_t bits) {
  if (kind == ElementKind::UnsignedInt)
    return static_cast<std::uint32_t>(bits);
  if (kind == ElementKind::Bool)
    return bits != 0;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(bits));
}

// float to integer conversion as the device does it: truncation, saturating, NaN to 0.
std::int64_t floatToInt(ElementKind kind, float x) {
  if (kind == ElementKind::Bool)
    return x != 0.0f;
  if (std::isnan(x))
    return 0;
  const double lo = kind == ElementKind::UnsignedInt ? 0.0 : -2147483648.0;
  const double hi = kind == ElementKind::UnsignedInt ? 4294967295.0 : 2147483647.0;
  return static_cast<std::int64_t>(std::clamp(std::trunc(static_cast<double>(x)), lo, hi));
}

// The element-wise loops are also built for AVX2, chosen when the library loads on a CPU that has it: eight lanes
// rather than SSE's four. Values are the same bits (no FMA is enabled, so nothing is contracted).
#if defined(__x86_64__) && defined(__GNUC__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

template <class F> void unaryLoop(std::size_t n, float *out, const float *a, F f) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = f(a[i]);
}
template <class F> void binaryLoop(std::size_t n, float *out, const float *a, const float *b, F f) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = f(a[i], b[i]);
}
template <class F> void intUnaryLoop(std::size_t n, std::int64_t *out, const std::int64_t *a, F f) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = f(a[i]);
}
template <class F>
void intBinaryLoop(std::size_t n, std::int64_t *out, const std::int64_t *a, const std::int64_t *b, F f) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = f(a[i], b[i]);
}
template <class F> void compareLoop(std::size_t n, std::int64_t *out, const float *a, const float *b, F f) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = f(a[i], b[i]) ? 1 : 0;
}

float nanPropagatingMax(float a, float b) { return (std::isnan(a) || a > b) ? a : b; }
float nanPropagatingMin(float a, float b) { return (std::isnan(a) || a < b) ? a : b; }

VECTOR_CLONES void floatUnary(UnaryOpType op, std::size_t n, float *out, const float *a) {
  switch (op) {
  case UnaryOpType::ABSOLUTE: return unaryLoop(n, out, a, [](float x) { return std::fabs(x); });
  case UnaryOpType::ASIN: return unaryLoop(n, out, a, [](float x) { return std::asin(x); });
  case UnaryOpType::CBRT: return unaryLoop(n, out, a, [](float x) { return std::cbrt(x); });
  case UnaryOpType::CEIL: return unaryLoop(n, out, a, [](float x) { return std::ceil(x); });
  case UnaryOpType::COS: return unaryLoop(n, out, a, [](float x) { return std::cos(x); });
  case UnaryOpType::ERF: return unaryLoop(n, out, a, [](float x) { return std::erf(x); });
  case UnaryOpType::EXPONENT: return unaryLoop(n, out, a, [](float x) { return std::exp(x); });
  case UnaryOpType::EXPONENT_MINUS_ONE: return unaryLoop(n, out, a, [](float x) { return std::expm1(x); });
  case UnaryOpType::EXPONENT2: return unaryLoop(n, out, a, [](float x) { return std::exp2(x); });
  case UnaryOpType::FLOOR: return unaryLoop(n, out, a, [](float x) { return std::floor(x); });
  case UnaryOpType::GELU_ERF:
    // erfc keeps the accuracy for negative x, where 1 + erf(x / sqrt 2) cancels.
    return unaryLoop(n, out, a, [](float x) { return 0.5f * x * std::erfc(-x * 0.70710678118654752f); });
  case UnaryOpType::INVERSE: return unaryLoop(n, out, a, [](float x) { return 1.0f / x; });
  case UnaryOpType::LOGARITHM: return unaryLoop(n, out, a, [](float x) { return std::log(x); });
  case UnaryOpType::LOGARITHM_ONE_PLUS: return unaryLoop(n, out, a, [](float x) { return std::log1p(x); });
  case UnaryOpType::NEGATE: return unaryLoop(n, out, a, [](float x) { return -x; });
  case UnaryOpType::NEARBY_INT: return unaryLoop(n, out, a, [](float x) { return std::nearbyint(x); });
  case UnaryOpType::RELU: return unaryLoop(n, out, a, [](float x) { return x > 0.0f ? x : (x == x ? 0.0f : x); });
  case UnaryOpType::SIGNUM:
    return unaryLoop(n, out, a, [](float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); });
  case UnaryOpType::SIN: return unaryLoop(n, out, a, [](float x) { return std::sin(x); });
  case UnaryOpType::TAN: return unaryLoop(n, out, a, [](float x) { return std::tan(x); });
  case UnaryOpType::TANH: return unaryLoop(n, out, a, [](float x) { return std::tanh(x); });
  case UnaryOpType::ROUND: return unaryLoop(n, out, a, [](float x) { return std::round(x); });
  case UnaryOpType::SQRT: return unaryLoop(n, out, a, [](float x) { return std::sqrt(x); });
  case UnaryOpType::SQUARE: return unaryLoop(n, out, a, [](float x) { return x * x; });
  case UnaryOpType::SIGMOID: return unaryLoop(n, out, a, [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
  case UnaryOpType::RSQRT: return unaryLoop(n, out, a, [](float x) { return 1.0f / std::sqrt(x); });
  case UnaryOpType::TRUNC: return unaryLoop(n, out, a, [](float x) { return std::trunc(x); });
  default: typeError("unsupported float unary operation");
  }
}

void floatPredicate(UnaryOpType op, std::size_t n, std::int64_t *out, const float *a) {
  for (std::size_t i = 0; i < n; ++i) {
    const float x = a[i];
    out[i] = op == UnaryOpType::IS_NAN ? std::isnan(x) : op == UnaryOpType::IS_INF ? std::isinf(x) : std::isfinite(x);
  }
}

VECTOR_CLONES void floatBinary(BinaryOpType op, std::size_t n, float *out, const float *a, const float *b) {
  switch (op) {
  case BinaryOpType::ADD: return binaryLoop(n, out, a, b, [](float x, float y) { return x + y; });
  case BinaryOpType::SUBTRACT: return binaryLoop(n, out, a, b, [](float x, float y) { return x - y; });
  case BinaryOpType::MULTIPLY: return binaryLoop(n, out, a, b, [](float x, float y) { return x * y; });
  case BinaryOpType::DIVIDE: return binaryLoop(n, out, a, b, [](float x, float y) { return x / y; });
  case BinaryOpType::POWER: return binaryLoop(n, out, a, b, [](float x, float y) { return std::pow(x, y); });
  case BinaryOpType::REMAINDER: return binaryLoop(n, out, a, b, [](float x, float y) { return std::fmod(x, y); });
  case BinaryOpType::MAXIMUM: return binaryLoop(n, out, a, b, nanPropagatingMax);
  case BinaryOpType::MINIMUM: return binaryLoop(n, out, a, b, nanPropagatingMin);
  case BinaryOpType::ATAN2: return binaryLoop(n, out, a, b, [](float x, float y) { return std::atan2(x, y); });
  case BinaryOpType::VARIANCE_TO_INV_STD_DEV:
    return binaryLoop(n, out, a, b, [](float var, float eps) { return 1.0f / std::sqrt(var + eps); });
  case BinaryOpType::INV_STD_DEV_TO_VARIANCE:
    return binaryLoop(n, out, a, b, [](float isd, float eps) { return 1.0f / (isd * isd) - eps; });
  default: typeError("unsupported float binary operation");
  }
}

void floatCompare(BinaryOpType op, std::size_t n, std::int64_t *out, const float *a, const float *b) {
  switch (op) {
  case BinaryOpType::EQUAL: return compareLoop(n, out, a, b, [](float x, float y) { return x == y; });
  case BinaryOpType::NOT_EQUAL: return compareLoop(n, out, a, b, [](float x, float y) { return x != y; });
  case BinaryOpType::GREATER_THAN: return compareLoop(n, out, a, b, [](float x, float y) { return x > y; });
  case BinaryOpType::GREATER_THAN_EQUAL: return compareLoop(n, out, a, b, [](float x, float y) { return x >= y; });
  case BinaryOpType::LESS_THAN: return compareLoop(n, out, a, b, [](float x, float y) { return x < y; });
  case BinaryOpType::LESS_THAN_EQUAL: return compareLoop(n, out, a, b, [](float x, float y) { return x <= y; });
  default: typeError("unsupported comparison");
  }
}

std::uint32_t bits32(std::int64_t v) { return static_cast<std::uint32_t>(v); }

void intUnary(UnaryOpType op, ElementKind kind, std::size_t n, std::int64_t *out, const std::int64_t *a) {
  switch (op) {
  case UnaryOpType::ABSOLUTE: intUnaryLoop(n, out, a, [](std::int64_t x) { return x < 0 ? -x : x; }); break;
  case UnaryOpType::NEGATE: intUnaryLoop(n, out, a, [](std::int64_t x) { return -x; }); break;
  case UnaryOpType::SIGNUM: intUnaryLoop(n, out, a, [](std::int64_t x) { return std::int64_t{(x > 0) - (x < 0)}; }); break;
  case UnaryOpType::SQUARE:
    intUnaryLoop(n, out, a, [](std::int64_t x) { return static_cast<std::int64_t>(static_cast<std::uint64_t>(x) * static_cast<std::uint64_t>(x)); });
    break;
  case UnaryOpType::LOGICAL_NOT: intUnaryLoop(n, out, a, [](std::int64_t x) { return std::int64_t{x == 0}; }); break;
  case UnaryOpType::BITWISE_NOT: intUnaryLoop(n, out, a, [](std::int64_t x) { return std::int64_t{~bits32(x)}; }); break;
  case UnaryOpType::POPCOUNT:
    intUnaryLoop(n, out, a, [](std::int64_t x) { return std::int64_t{__builtin_popcount(bits32(x))}; });
    break;
  case UnaryOpType::COUNT_LEADING_ZEROS:
    intUnaryLoop(n, out, a, [](std::int64_t x) { return std::int64_t{bits32(x) == 0 ? 32 : __builtin_clz(bits32(x))}; });
    break;
  default: typeError("unsupported integer unary operation");
  }
  for (std::size_t i = 0; i < n; ++i)
    out[i] = wrapInt(kind, static_cast<std::uint64_t>(out[i]));
}

void intBinary(BinaryOpType op, ElementKind kind, std::size_t n, std::int64_t *out, const std::int64_t *a,
               const std::int64_t *b) {
  const bool isUnsigned = kind == ElementKind::UnsignedInt;
  auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  switch (op) {
  case BinaryOpType::ADD: intBinaryLoop(n, out, a, b, [&](std::int64_t x, std::int64_t y) { return std::int64_t(u(x) + u(y)); }); break;
  case BinaryOpType::SUBTRACT: intBinaryLoop(n, out, a, b, [&](std::int64_t x, std::int64_t y) { return std::int64_t(u(x) - u(y)); }); break;
  case BinaryOpType::MULTIPLY: intBinaryLoop(n, out, a, b, [&](std::int64_t x, std::int64_t y) { return std::int64_t(u(x) * u(y)); }); break;
  // Division by zero gives 0 rather than undefined behaviour.
  case BinaryOpType::DIVIDE: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return y == 0 ? 0 : x / y; }); break;
  case BinaryOpType::REMAINDER: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return y == 0 ? 0 : x % y; }); break;
  case BinaryOpType::MAXIMUM: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::max(x, y); }); break;
  case BinaryOpType::MINIMUM: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::min(x, y); }); break;
  case BinaryOpType::EQUAL: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x == y}; }); return;
  case BinaryOpType::NOT_EQUAL: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x != y}; }); return;
  case BinaryOpType::GREATER_THAN: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x > y}; }); return;
  case BinaryOpType::GREATER_THAN_EQUAL: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x >= y}; }); return;
  case BinaryOpType::LESS_THAN: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x < y}; }); return;
  case BinaryOpType::LESS_THAN_EQUAL: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x <= y}; }); return;
  case BinaryOpType::LOGICAL_AND: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x != 0 && y != 0}; }); return;
  case BinaryOpType::LOGICAL_OR: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{x != 0 || y != 0}; }); return;
  case BinaryOpType::BITWISE_AND: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{bits32(x) & bits32(y)}; }); break;
  case BinaryOpType::BITWISE_OR: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{bits32(x) | bits32(y)}; }); break;
  case BinaryOpType::BITWISE_XOR: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{bits32(x) ^ bits32(y)}; }); break;
  case BinaryOpType::BITWISE_XNOR: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{~(bits32(x) ^ bits32(y))}; }); break;
  case BinaryOpType::SHIFT_LEFT: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{bits32(x) << (bits32(y) & 31u)}; }); break;
  case BinaryOpType::SHIFT_RIGHT: intBinaryLoop(n, out, a, b, [](std::int64_t x, std::int64_t y) { return std::int64_t{bits32(x) >> (bits32(y) & 31u)}; }); break;
  case BinaryOpType::SHIFT_RIGHT_SIGN_EXTEND:
    intBinaryLoop(n, out, a, b, [isUnsigned](std::int64_t x, std::int64_t y) {
      const std::int32_t signedValue = static_cast<std::int32_t>(bits32(x));
      const std::int32_t shifted = signedValue >> (bits32(y) & 31u);
      return isUnsigned ? std::int64_t{bits32(shifted)} : std::int64_t{shifted};
    });
    break;
  default: typeError("unsupported integer binary operation");
  }
  for (std::size_t i = 0; i < n; ++i)
    out[i] = wrapInt(kind, static_cast<std::uint64_t>(out[i]));
}

} // namespace

struct InputWalk {
  const void *data;
  ElementKind kind;
  bool contiguous;  // same shape as the output
  bool scalar;
  std::vector<std::size_t> strides;  // per output dimension, 0 where broadcast
};

namespace {


InputWalk makeWalk(const MapInput &input, const std::vector<std::size_t> &outShape) {
  InputWalk walk{input.data, input.kind, input.shape == outShape, false, {}};
  std::size_t count = 1;
  for (std::size_t s : input.shape)
    count *= s;
  walk.scalar = count == 1;
  walk.strides.assign(outShape.size(), 0);
  std::size_t stride = 1;
  const std::size_t offset = outShape.size() - input.shape.size();
  for (std::size_t d = input.shape.size(); d-- > 0;) {
    if (input.shape[d] != 1)
      walk.strides[d + offset] = stride;
    stride *= input.shape[d];
  }
  return walk;
}

template <class T> void loadElements(const InputWalk &walk, std::size_t offset, std::size_t stride, std::size_t n, T *out) {
  switch (walk.kind) {
  case ElementKind::Float:
  case ElementKind::Half: {
    const float *p = static_cast<const float *>(walk.data) + offset;
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(p[i * stride]);
    break;
  }
  case ElementKind::Int: {
    const std::int32_t *p = static_cast<const std::int32_t *>(walk.data) + offset;
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(p[i * stride]);
    break;
  }
  case ElementKind::UnsignedInt: {
    const std::uint32_t *p = static_cast<const std::uint32_t *>(walk.data) + offset;
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(p[i * stride]);
    break;
  }
  case ElementKind::Bool: {
    const std::uint8_t *p = static_cast<const std::uint8_t *>(walk.data) + offset;
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(p[i * stride] != 0);
    break;
  }
  }
}

// Gathers output elements [start, start + n) of a broadcast input.
template <class T>
void gather(const InputWalk &walk, const std::vector<std::size_t> &outShape, std::size_t start, std::size_t n, T *out) {
  if (walk.scalar) {
    loadElements(walk, 0, 0, n, out);
    return;
  }
  if (walk.contiguous) {
    loadElements(walk, start, 1, n, out);
    return;
  }
  const std::size_t rank = outShape.size();
  std::vector<std::size_t> index(rank);
  std::size_t offset = 0;
  std::size_t rest = start;
  for (std::size_t d = rank; d-- > 0;) {
    index[d] = rest % outShape[d];
    rest /= outShape[d];
    offset += index[d] * walk.strides[d];
  }
  const std::size_t last = rank - 1;
  std::size_t done = 0;
  while (done < n) {
    const std::size_t run = std::min(n - done, outShape[last] - index[last]);
    loadElements(walk, offset, walk.strides[last], run, out + done);
    done += run;
    offset += run * walk.strides[last];
    index[last] += run;
    if (index[last] < outShape[last])
      continue;
    offset -= outShape[last] * walk.strides[last];
    index[last] = 0;
    for (std::size_t d = last; d-- > 0;) {
      offset += walk.strides[d];
      if (++index[d] < outShape[d])
        break;
      offset -= outShape[d] * walk.strides[d];
      index[d] = 0;
    }
  }
}

void store(const MapOutput &output, ElementKind regKind, Registers &regs, std::size_t reg, std::size_t start, std::size_t n) {
  if (isFloating(regKind)) {
    const float *v = regs.read(reg);
    switch (output.kind) {
    case ElementKind::Float: std::memcpy(static_cast<float *>(output.data) + start, v, n * sizeof(float)); return;
    case ElementKind::Half:  // rounded by the engine on write-back (nearest even or stochastic)
      std::memcpy(static_cast<float *>(output.data) + start, v, n * sizeof(float));
      return;
    case ElementKind::Int:
      for (std::size_t i = 0; i < n; ++i)
        static_cast<std::int32_t *>(output.data)[start + i] = static_cast<std::int32_t>(floatToInt(ElementKind::Int, v[i]));
      return;
    case ElementKind::UnsignedInt:
      for (std::size_t i = 0; i < n; ++i)
        static_cast<std::uint32_t *>(output.data)[start + i] = static_cast<std::uint32_t>(floatToInt(ElementKind::UnsignedInt, v[i]));
      return;
    case ElementKind::Bool:
      for (std::size_t i = 0; i < n; ++i)
        static_cast<std::uint8_t *>(output.data)[start + i] = v[i] != 0.0f;
      return;
    }
  }
  const std::int64_t *v = regs.ints(reg);
  for (std::size_t i = 0; i < n; ++i) {
    switch (output.kind) {
    case ElementKind::Float: static_cast<float *>(output.data)[start + i] = static_cast<float>(v[i]); break;
    case ElementKind::Half: static_cast<float *>(output.data)[start + i] = static_cast<float>(v[i]); break;
    case ElementKind::Int: static_cast<std::int32_t *>(output.data)[start + i] = static_cast<std::int32_t>(wrapInt(ElementKind::Int, static_cast<std::uint64_t>(v[i]))); break;
    case ElementKind::UnsignedInt: static_cast<std::uint32_t *>(output.data)[start + i] = static_cast<std::uint32_t>(v[i]); break;
    case ElementKind::Bool: static_cast<std::uint8_t *>(output.data)[start + i] = v[i] != 0; break;
    }
  }
}

} // namespace

std::vector<std::size_t> broadcastShape(const std::vector<std::vector<std::size_t>> &shapes) {
  std::vector<std::size_t> out;
  for (const auto &shape : shapes)
    out.resize(std::max(out.size(), shape.size()), 1);
  for (std::size_t t = 0; t < shapes.size(); ++t) {
    const auto &shape = shapes[t];
    const std::size_t offset = out.size() - shape.size();
    for (std::size_t d = 0; d < shape.size(); ++d) {
      std::size_t &o = out[d + offset];
      if (shape[d] == o || shape[d] == 1)
        continue;
      if (o != 1)
        throw std::invalid_argument("popops::map: input " + std::to_string(t) + " has size " +
                                    std::to_string(shape[d]) + " in a dimension where another input has " +
                                    std::to_string(o) + "; shapes must broadcast");
      o = shape[d];
    }
  }
  return out;
}

MapProgram::MapProgram(const std::vector<MapNode> &nodes, const std::vector<std::size_t> &roots,
                       const std::vector<ElementKind> &inputKinds)
    : inputCount_(inputKinds.size()) {
  Compiler compiler(nodes, inputKinds, instructions_, registerKinds_);
  for (std::size_t root : roots) {
    const std::size_t reg = compiler.compile(root, nullptr);
    rootRegisters_.push_back(reg);
    resultKinds_.push_back(registerKinds_[reg]);
  }
  isRoot_.assign(registerKinds_.size(), false);
  for (std::size_t reg : rootRegisters_)
    isRoot_[reg] = true;
}

void MapProgram::run(const std::vector<MapInput> &inputs, const std::vector<std::size_t> &outShape,
                     const std::vector<MapOutput> &outputs, PartRunner *workers) const {
  if (inputs.size() < inputCount_)
    throw std::invalid_argument("popops::map: expression uses " + std::to_string(inputCount_) + " inputs, " +
                                std::to_string(inputs.size()) + " given");
  if (outputs.size() != rootRegisters_.size())
    throw std::invalid_argument("popops::map: " + std::to_string(rootRegisters_.size()) + " results but " +
                                std::to_string(outputs.size()) + " outputs");
  std::vector<InputWalk> walks;
  for (const MapInput &input : inputs)
    walks.push_back(makeWalk(input, outShape));
  std::size_t total = 1;
  for (std::size_t s : outShape)
    total *= s;

  // Chunks are independent (an output element depends only on the inputs' elements it broadcasts from), so bands
  // of them run on the workers, each with registers of its own.
  const std::size_t chunks = (total + kMapChunk - 1) / kMapChunk;
  const std::size_t threads = workers ? workers->threads() : 1;
  const std::size_t parts = std::min<std::size_t>(threads, std::max<std::size_t>(1, chunks / kMinChunksPerPart));
  // A fill (popops::fill, zero: an expression of constants alone) of one float output: its value is worked out once
  // and written straight to the output in one pass.
  const bool constant = std::none_of(instructions_.begin(), instructions_.end(),
                                     [](const Instruction &i) { return i.kind == MapNode::Kind::Input; });
  if (constant && outputs.size() == 1 && total > 0 &&
      (outputs[0].kind == ElementKind::Float || outputs[0].kind == ElementKind::Half)) {
    float value = 0.0f;
    runChunks(walks, {1}, {MapOutput{&value, outputs[0].kind}}, 0, 1);
    float *out = static_cast<float *>(outputs[0].data);
    auto fill = [&](std::size_t part) {
      const auto [first, last] = partRange(total, parts, part);
      std::fill(out + first, out + last, value);
    };
    if (parts == 1) fill(0);
    else workers->run(parts, fill);
    return;
  }
  auto band = [&](std::size_t part) {
    const auto [first, last] = partRange(chunks, parts, part);
    runChunks(walks, outShape, outputs, first * kMapChunk, std::min(total, last * kMapChunk));
  };
  if (parts == 1)
    band(0);
  else
    workers->run(parts, band);
}

void MapProgram::runChunks(const std::vector<InputWalk> &walks, const std::vector<std::size_t> &outShape,
                           const std::vector<MapOutput> &outputs, std::size_t begin, std::size_t end) const {
  Registers regs;
  regs.resize(registerKinds_.size(), std::min(kMapChunk, end - begin));
  for (std::size_t start = begin; start < end; start += kMapChunk) {
    const std::size_t n = std::min(kMapChunk, end - start);
    // A constant's or a scalar input's register holds the same lanes in every chunk (no instruction writes another's
    // register): filled in the first chunk, the widest, and kept.
    const bool firstChunk = start == begin;
    for (const Instruction &ins : instructions_) {
      const bool floatResult = isFloating(ins.resultKind);
      const bool floatOperand = isFloating(ins.operandKind);
      float *fd = regs.floats(ins.dst);
      std::int64_t *id = regs.ints(ins.dst);
      const bool sameEveryChunk =
          ins.kind == MapNode::Kind::Constant || (ins.kind == MapNode::Kind::Input && walks[ins.input].scalar);
      if (sameEveryChunk && !firstChunk)
        continue;
      switch (ins.kind) {
      case MapNode::Kind::Input:
        if (floatResult && walks[ins.input].contiguous)
          regs.direct[ins.dst] = static_cast<const float *>(walks[ins.input].data) + start;
        else if (floatResult)
          gather(walks[ins.input], outShape, start, n, fd);
        else
          gather(walks[ins.input], outShape, start, n, id);
        break;
      case MapNode::Kind::Constant:
        if (floatResult) {
          const float value = ins.resultKind == ElementKind::Half
                                  ? roundToHalfWithinRange(static_cast<float>(ins.constant))
                                  : static_cast<float>(ins.constant);
          std::fill(fd, fd + n, value);
        } else {
          const double c = ins.constant;
          const std::int64_t value =
              ins.resultKind == ElementKind::Bool ? (c != 0.0) : static_cast<std::int64_t>(std::trunc(c));
          std::fill(id, id + n, wrapInt(ins.resultKind, static_cast<std::uint64_t>(value)));
        }
        break;
      case MapNode::Kind::Cast:
        if (floatOperand && floatResult) {
          std::copy(regs.read(ins.src[0]), regs.read(ins.src[0]) + n, fd);
        } else if (floatOperand) {
          const float *a = regs.read(ins.src[0]);
          for (std::size_t i = 0; i < n; ++i)
            id[i] = floatToInt(ins.resultKind, a[i]);
        } else if (floatResult) {
          const std::int64_t *a = regs.ints(ins.src[0]);
          for (std::size_t i = 0; i < n; ++i)
            fd[i] = static_cast<float>(a[i]);
        } else {
          const std::int64_t *a = regs.ints(ins.src[0]);
          for (std::size_t i = 0; i < n; ++i)
            id[i] = wrapInt(ins.resultKind, static_cast<std::uint64_t>(a[i]));
        }
        break;
      case MapNode::Kind::Unary:
        if (!floatOperand)
          intUnary(ins.unaryOp, ins.resultKind, n, id, regs.ints(ins.src[0]));
        else if (!floatResult)
          floatPredicate(ins.unaryOp, n, id, regs.read(ins.src[0]));
        else
          floatUnary(ins.unaryOp, n, fd, regs.read(ins.src[0]));
        break;
      case MapNode::Kind::Binary:
        if (!floatOperand)
          intBinary(ins.binaryOp, ins.resultKind, n, id, regs.ints(ins.src[0]), regs.ints(ins.src[1]));
        else if (!floatResult)
          floatCompare(ins.binaryOp, n, id, regs.read(ins.src[0]), regs.read(ins.src[1]));
        else
          floatBinary(ins.binaryOp, n, fd, regs.read(ins.src[0]), regs.read(ins.src[1]));
        break;
      case MapNode::Kind::Ternary:
        if (ins.ternaryOp == TernaryOpType::SELECT) {
          const std::int64_t *cond = regs.ints(ins.src[2]);
          if (floatResult) {
            const float *a = regs.read(ins.src[0]);
            const float *b = regs.read(ins.src[1]);
            for (std::size_t i = 0; i < n; ++i)
              fd[i] = cond[i] ? a[i] : b[i];
          } else {
            const std::int64_t *a = regs.ints(ins.src[0]);
            const std::int64_t *b = regs.ints(ins.src[1]);
            for (std::size_t i = 0; i < n; ++i)
              id[i] = cond[i] ? a[i] : b[i];
          }
        } else if (floatResult) {
          const float *x = regs.read(ins.src[0]);
          const float *lo = regs.read(ins.src[1]);
          const float *hi = regs.read(ins.src[2]);
          for (std::size_t i = 0; i < n; ++i)
            fd[i] = nanPropagatingMin(nanPropagatingMax(x[i], lo[i]), hi[i]);
        } else {
          const std::int64_t *x = regs.ints(ins.src[0]);
          const std::int64_t *lo = regs.ints(ins.src[1]);
          const std::int64_t *hi = regs.ints(ins.src[2]);
          for (std::size_t i = 0; i < n; ++i)
            id[i] = std::min(std::max(x[i], lo[i]), hi[i]);
        }
        break;
      }
      // A HALF result is rounded after every operation, as the device computes in half; a root's
      // result is left to the engine's write-back, which rounds it (nearest even or stochastic)
      // and applies the floating-point behaviour.
      if (ins.resultKind == ElementKind::Half && ins.kind != MapNode::Kind::Input && !isRoot_[ins.dst])
        roundToHalfWithinRange(fd, n);
    }
    // An output may be an input read in place (an in-place map): a result that is that input itself is copied out
    // before any output is written.
    for (std::size_t reg : rootRegisters_)
      if (regs.direct[reg]) {
        std::copy(regs.direct[reg], regs.direct[reg] + n, regs.floats(reg));
        regs.direct[reg] = nullptr;
      }
    for (std::size_t r = 0; r < rootRegisters_.size(); ++r)
      store(outputs[r], registerKinds_[rootRegisters_[r]], regs, rootRegisters_[r], start, n);
  }
}

} // namespace poplar_emulator
