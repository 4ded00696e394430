// Emulated Poplar SDK: element-wise expressions for popops::map. An expression is a tree of
// placeholders (_1 is the first tensor), constants, casts and operations; map compiles it once.
#ifndef POPOPS_EXPR_HPP
#define POPOPS_EXPR_HPP

#include <poplar/Type.hpp>
#include <popops/ExprOp.hpp>

#include <memory>
#include <type_traits>

namespace poplar_emulator {
struct ExprAccess;
}

namespace popops {
namespace expr {

class Expr {
public:
  virtual ~Expr();
  virtual std::unique_ptr<Expr> clone() const = 0;

protected:
  Expr() = default;
  Expr(const Expr &) = default;
  Expr &operator=(const Expr &) = default;
};

// Holds a copy of any expression, so trees can be built up at run time.
class Any {
public:
  Any(const popops::expr::Expr &expr) : expr_(expr.clone()) {}
  Any(const Any &other) : expr_(other.expr_->clone()) {}
  Any &operator=(const Any &other) {
    expr_ = other.expr_->clone();
    return *this;
  }
  operator const Expr &() const { return *expr_; }

private:
  std::unique_ptr<Expr> expr_;
};

class ConstHalf;

class Const : public Expr {
public:
  // A constant of the device type of T (FLOAT for floating-point T). Combined with a tensor of
  // another type, the constant takes that tensor's type.
  template <typename T, typename = std::enable_if_t<std::is_arithmetic<T>::value>>
  Const(T x) : value_(static_cast<double>(x)), type_(deviceType<T>()) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<Const>(*this); }

private:
  friend class ConstHalf;
  friend struct poplar_emulator::ExprAccess;
  Const(double value, const poplar::Type &type, bool typeFixed) : value_(value), type_(type), typeFixed_(typeFixed) {}
  template <typename T> static poplar::Type deviceType() {
    if constexpr (std::is_floating_point<T>::value)
      return poplar::FLOAT;
    else
      return poplar::equivalent_device_type<T>().value;
  }
  double value_;
  poplar::Type type_;
  bool typeFixed_ = false;
};

// A constant of type HALF.
class ConstHalf : public Const {
public:
  ConstHalf(float x) : Const(static_cast<double>(x), poplar::HALF, true) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<ConstHalf>(*this); }
};

inline popops::expr::ConstHalf operator""_half(long double x) { return ConstHalf(static_cast<float>(x)); }

class Cast : public Expr {
public:
  Cast(const popops::expr::Expr &a, const poplar::Type bType) : a_(a.clone()), type_(bType) {}
  Cast(const Cast &other) : Expr(other), a_(other.a_->clone()), type_(other.type_) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<Cast>(*this); }

private:
  friend struct poplar_emulator::ExprAccess;
  std::unique_ptr<Expr> a_;
  poplar::Type type_;
};

// _1 is the first tensor given to map, _2 the second, ...
class PlaceHolder : public Expr {
public:
  PlaceHolder(unsigned int index) : index_(index) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<PlaceHolder>(*this); }

private:
  friend struct poplar_emulator::ExprAccess;
  unsigned index_;
};

const PlaceHolder _1(1);
const PlaceHolder _2(2);
const PlaceHolder _3(3);
const PlaceHolder _4(4);
const PlaceHolder _5(5);
const PlaceHolder _6(6);
const PlaceHolder _7(7);
const PlaceHolder _8(8);
const PlaceHolder _9(9);
const PlaceHolder _10(10);
const PlaceHolder _11(11);
const PlaceHolder _12(12);
const PlaceHolder _13(13);
const PlaceHolder _14(14);
const PlaceHolder _15(15);
const PlaceHolder _16(16);
const PlaceHolder _17(17);
const PlaceHolder _18(18);
const PlaceHolder _19(19);
const PlaceHolder _20(20);

class UnaryOp : public Expr {
public:
  UnaryOp(popops::expr::UnaryOpType type, const popops::expr::Expr &a) : type_(type), a_(a.clone()) {}
  UnaryOp(const UnaryOp &other) : Expr(other), type_(other.type_), a_(other.a_->clone()) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<UnaryOp>(*this); }

private:
  friend struct poplar_emulator::ExprAccess;
  UnaryOpType type_;
  std::unique_ptr<Expr> a_;
};

class BinaryOp : public Expr {
public:
  BinaryOp(popops::expr::BinaryOpType type, const popops::expr::Expr &a, const popops::expr::Expr &b)
      : type_(type), a_(a.clone()), b_(b.clone()) {}
  BinaryOp(const BinaryOp &other) : Expr(other), type_(other.type_), a_(other.a_->clone()), b_(other.b_->clone()) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<BinaryOp>(*this); }

private:
  friend struct poplar_emulator::ExprAccess;
  BinaryOpType type_;
  std::unique_ptr<Expr> a_, b_;
};

class TernaryOp : public Expr {
public:
  TernaryOp(popops::expr::TernaryOpType type, const popops::expr::Expr &a, const popops::expr::Expr &b,
            const popops::expr::Expr &c)
      : type_(type), a_(a.clone()), b_(b.clone()), c_(c.clone()) {}
  TernaryOp(const TernaryOp &other)
      : Expr(other), type_(other.type_), a_(other.a_->clone()), b_(other.b_->clone()), c_(other.c_->clone()) {}
  std::unique_ptr<Expr> clone() const override { return std::make_unique<TernaryOp>(*this); }

private:
  friend struct poplar_emulator::ExprAccess;
  TernaryOpType type_;
  std::unique_ptr<Expr> a_, b_, c_;
};

// The SDK's named operations (Add(_1, _2), Tanh(_1), ...) and operator symbols (_1 + _2).
#define POPOPS_EMULATOR_UNARY(Name, Op)                                                              \
  class Name : public UnaryOp {                                                                      \
  public:                                                                                            \
    Name(const Expr &a) : UnaryOp(UnaryOpType::Op, a) {}                                             \
  };
#define POPOPS_EMULATOR_BINARY(Name, Op)                                                             \
  class Name : public BinaryOp {                                                                     \
  public:                                                                                            \
    Name(const Expr &a, const Expr &b) : BinaryOp(BinaryOpType::Op, a, b) {}                         \
  };
#define POPOPS_EMULATOR_BINARY_SYMBOL(Name, Op, Symbol)                                              \
  POPOPS_EMULATOR_BINARY(Name, Op)                                                                   \
  inline Name operator Symbol(const Expr &a, const Expr &b) { return Name(a, b); }                   \
  template <typename T, typename = std::enable_if_t<std::is_arithmetic<T>::value>>                   \
  inline Name operator Symbol(const T &a, const Expr &b) {                                           \
    return Name(Const(a), b);                                                                        \
  }                                                                                                  \
  template <typename T, typename = std::enable_if_t<std::is_arithmetic<T>::value>>                   \
  inline Name operator Symbol(const Expr &a, const T &b) {                                           \
    return Name(a, Const(b));                                                                        \
  }

POPOPS_EMULATOR_UNARY(Abs, ABSOLUTE)
POPOPS_EMULATOR_UNARY(Asin, ASIN)
POPOPS_EMULATOR_UNARY(BitwiseNot, BITWISE_NOT)
POPOPS_EMULATOR_UNARY(Cbrt, CBRT)
POPOPS_EMULATOR_UNARY(Ceil, CEIL)
POPOPS_EMULATOR_UNARY(Cos, COS)
POPOPS_EMULATOR_UNARY(Erf, ERF)
POPOPS_EMULATOR_UNARY(Exp, EXPONENT)
POPOPS_EMULATOR_UNARY(Expm1, EXPONENT_MINUS_ONE)
POPOPS_EMULATOR_UNARY(Floor, FLOOR)
POPOPS_EMULATOR_UNARY(Inv, INVERSE)
POPOPS_EMULATOR_UNARY(IsFinite, IS_FINITE)
POPOPS_EMULATOR_UNARY(IsInf, IS_INF)
POPOPS_EMULATOR_UNARY(IsNaN, IS_NAN)
POPOPS_EMULATOR_UNARY(Log, LOGARITHM)
POPOPS_EMULATOR_UNARY(Log1p, LOGARITHM_ONE_PLUS)
POPOPS_EMULATOR_UNARY(Not, LOGICAL_NOT)
POPOPS_EMULATOR_UNARY(Neg, NEGATE)
POPOPS_EMULATOR_UNARY(Signum, SIGNUM)
POPOPS_EMULATOR_UNARY(Sin, SIN)
POPOPS_EMULATOR_UNARY(Tan, TAN)
POPOPS_EMULATOR_UNARY(Tanh, TANH)
POPOPS_EMULATOR_UNARY(Round, ROUND)
POPOPS_EMULATOR_UNARY(Sqrt, SQRT)
POPOPS_EMULATOR_UNARY(Square, SQUARE)
POPOPS_EMULATOR_UNARY(Sigmoid, SIGMOID)
POPOPS_EMULATOR_UNARY(Rsqrt, RSQRT)
inline Neg operator-(const Expr &a) { return Neg(a); }
inline Not operator!(const Expr &a) { return Not(a); }
inline BitwiseNot operator~(const Expr &a) { return BitwiseNot(a); }

POPOPS_EMULATOR_BINARY_SYMBOL(Add, ADD, +)
POPOPS_EMULATOR_BINARY(Atan2, ATAN2)
POPOPS_EMULATOR_BINARY_SYMBOL(BitwiseAnd, BITWISE_AND, &)
POPOPS_EMULATOR_BINARY_SYMBOL(BitwiseOr, BITWISE_OR, |)
POPOPS_EMULATOR_BINARY_SYMBOL(BitwiseXor, BITWISE_XOR, ^)
POPOPS_EMULATOR_BINARY(BitwiseXnor, BITWISE_XNOR)
POPOPS_EMULATOR_BINARY_SYMBOL(Divide, DIVIDE, /)
POPOPS_EMULATOR_BINARY_SYMBOL(Equal, EQUAL, ==)
POPOPS_EMULATOR_BINARY_SYMBOL(Gte, GREATER_THAN_EQUAL, >=)
POPOPS_EMULATOR_BINARY_SYMBOL(Gt, GREATER_THAN, >)
POPOPS_EMULATOR_BINARY_SYMBOL(Lte, LESS_THAN_EQUAL, <=)
POPOPS_EMULATOR_BINARY_SYMBOL(And, LOGICAL_AND, &&)
POPOPS_EMULATOR_BINARY_SYMBOL(Or, LOGICAL_OR, ||)
POPOPS_EMULATOR_BINARY_SYMBOL(Lt, LESS_THAN, <)
POPOPS_EMULATOR_BINARY(InvStdDevToVariance, INV_STD_DEV_TO_VARIANCE)
POPOPS_EMULATOR_BINARY(Max, MAXIMUM)
POPOPS_EMULATOR_BINARY(Min, MINIMUM)
POPOPS_EMULATOR_BINARY_SYMBOL(Mul, MULTIPLY, *)
POPOPS_EMULATOR_BINARY_SYMBOL(NotEqual, NOT_EQUAL, !=)
POPOPS_EMULATOR_BINARY(Pow, POWER)
POPOPS_EMULATOR_BINARY_SYMBOL(Rem, REMAINDER, %)
POPOPS_EMULATOR_BINARY_SYMBOL(Shl, SHIFT_LEFT, <<)
POPOPS_EMULATOR_BINARY_SYMBOL(Shr, SHIFT_RIGHT, >>)
POPOPS_EMULATOR_BINARY(ShrSE, SHIFT_RIGHT_SIGN_EXTEND)
POPOPS_EMULATOR_BINARY_SYMBOL(Sub, SUBTRACT, -)
POPOPS_EMULATOR_BINARY(VarianceToInvStdDev, VARIANCE_TO_INV_STD_DEV)

#undef POPOPS_EMULATOR_UNARY
#undef POPOPS_EMULATOR_BINARY
#undef POPOPS_EMULATOR_BINARY_SYMBOL

// Select(a, b, c) is a where c is true, else b; Clamp(a, b, c) is a limited to [b, c].
class Select : public TernaryOp {
public:
  Select(const Expr &a, const Expr &b, const Expr &c) : TernaryOp(TernaryOpType::SELECT, a, b, c) {}
};
class Clamp : public TernaryOp {
public:
  Clamp(const Expr &a, const Expr &b, const Expr &c) : TernaryOp(TernaryOpType::CLAMP, a, b, c) {}
};

} // namespace expr
} // namespace popops

#endif
