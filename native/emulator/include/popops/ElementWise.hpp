// Emulated Poplar SDK: element-wise operations on tensors. Inputs broadcast numpy-style to the
// output's shape; HALF results are rounded to half after every operation of an expression.
#ifndef POPOPS_ELEMENT_WISE_HPP
#define POPOPS_ELEMENT_WISE_HPP

#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <popops/Expr.hpp>

#include <vector>

namespace popops {

poplar::Tensor map(poplar::Graph &graph, const popops::expr::Expr &expr, const std::vector<poplar::Tensor> &ts,
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                   const poplar::OptionFlags &options = {});

inline poplar::Tensor map(poplar::Graph &graph, popops::expr::UnaryOpType op, const poplar::Tensor &t,
                          poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                          const poplar::OptionFlags &options = {}) {
  return map(graph, expr::UnaryOp(op, expr::_1), {t}, prog, debugContext, options);
}

inline poplar::Tensor map(poplar::Graph &graph, popops::expr::BinaryOpType op, const poplar::Tensor &a,
                          const poplar::Tensor &b, poplar::program::Sequence &prog,
                          const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {}) {
  return map(graph, expr::BinaryOp(op, expr::_1, expr::_2), {a, b}, prog, debugContext, options);
}

inline poplar::Tensor map(poplar::Graph &graph, popops::expr::TernaryOpType op, const poplar::Tensor &a,
                          const poplar::Tensor &b, const poplar::Tensor &c, poplar::program::Sequence &prog,
                          const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {}) {
  return map(graph, expr::TernaryOp(op, expr::_1, expr::_2, expr::_3), {a, b, c}, prog, debugContext, options);
}

// Several expressions over the same tensors, evaluated in one pass: one result per expression.
std::vector<poplar::Tensor> map(poplar::Graph &graph, const std::vector<popops::expr::Any> &exprs,
                                const std::vector<poplar::Tensor> &ts, poplar::program::Sequence &prog,
                                const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {});

// The result is written over ts[0], which must have the broadcast shape and the result's type.
void mapInPlace(poplar::Graph &graph, const popops::expr::Expr &expr, const std::vector<poplar::Tensor> &ts,
                poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                const poplar::OptionFlags &options = {});

inline void mapInPlace(poplar::Graph &graph, popops::expr::UnaryOpType op, const poplar::Tensor &t,
                       poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                       const poplar::OptionFlags &options = {}) {
  mapInPlace(graph, expr::UnaryOp(op, expr::_1), {t}, prog, debugContext, options);
}

inline void mapInPlace(poplar::Graph &graph, popops::expr::BinaryOpType op, const poplar::Tensor &a,
                       const poplar::Tensor &b, poplar::program::Sequence &prog,
                       const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {}) {
  mapInPlace(graph, expr::BinaryOp(op, expr::_1, expr::_2), {a, b}, prog, debugContext, options);
}

inline void mapInPlace(poplar::Graph &graph, popops::expr::TernaryOpType op, const poplar::Tensor &a,
                       const poplar::Tensor &b, const poplar::Tensor &c, poplar::program::Sequence &prog,
                       const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {}) {
  mapInPlace(graph, expr::TernaryOp(op, expr::_1, expr::_2, expr::_3), {a, b, c}, prog, debugContext, options);
}

// Expression i is written over ts[i].
void mapInPlace(poplar::Graph &graph, const std::vector<popops::expr::Any> &exprs,
                const std::vector<poplar::Tensor> &ts, poplar::program::Sequence &prog,
                const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {});

void mapWithOutput(poplar::Graph &graph, const popops::expr::Expr &expr, const std::vector<poplar::Tensor> &ts,
                   const poplar::Tensor &out, poplar::program::Sequence &prog,
                   const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {});

inline void mapWithOutput(poplar::Graph &graph, popops::expr::UnaryOpType op, const poplar::Tensor &in,
                          const poplar::Tensor &out, poplar::program::Sequence &prog,
                          const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {}) {
  mapWithOutput(graph, expr::UnaryOp(op, expr::_1), {in}, out, prog, debugContext, options);
}

inline void mapWithOutput(poplar::Graph &graph, popops::expr::BinaryOpType op, const poplar::Tensor &a,
                          const poplar::Tensor &b, const poplar::Tensor &out, poplar::program::Sequence &prog,
                          const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {}) {
  mapWithOutput(graph, expr::BinaryOp(op, expr::_1, expr::_2), {a, b}, out, prog, debugContext, options);
}

inline void mapWithOutput(poplar::Graph &graph, popops::expr::TernaryOpType op, const poplar::Tensor &a,
                          const poplar::Tensor &b, const poplar::Tensor &c, const poplar::Tensor &out,
                          poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                          const poplar::OptionFlags &options = {}) {
  mapWithOutput(graph, expr::TernaryOp(op, expr::_1, expr::_2, expr::_3), {a, b, c}, out, prog, debugContext,
                options);
}

void mapWithOutput(poplar::Graph &graph, const std::vector<popops::expr::Any> &exprs,
                   const std::vector<poplar::Tensor> &ts, const std::vector<poplar::Tensor> &outs,
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                   const poplar::OptionFlags &options = {});

#define POPOPS_EMULATOR_UNARY_FUNCTION(name, Op)                                                     \
  inline poplar::Tensor name(poplar::Graph &graph, const poplar::Tensor &A, poplar::program::Sequence &prog, \
                             const poplar::DebugContext &debugContext = {},                          \
                             const poplar::OptionFlags &options = {}) {                              \
    return map(graph, expr::UnaryOpType::Op, A, prog, debugContext, options);                        \
  }

POPOPS_EMULATOR_UNARY_FUNCTION(abs, ABSOLUTE)
POPOPS_EMULATOR_UNARY_FUNCTION(neg, NEGATE)
POPOPS_EMULATOR_UNARY_FUNCTION(exp, EXPONENT)
POPOPS_EMULATOR_UNARY_FUNCTION(log, LOGARITHM)
POPOPS_EMULATOR_UNARY_FUNCTION(sqrt, SQRT)
POPOPS_EMULATOR_UNARY_FUNCTION(square, SQUARE)
POPOPS_EMULATOR_UNARY_FUNCTION(rsqrt, RSQRT)
POPOPS_EMULATOR_UNARY_FUNCTION(tanh, TANH)

// name(A, B), name(A, constant), name(constant, B) for a binary operation; the constant takes the
// tensor's type.
#define POPOPS_EMULATOR_BINARY_FUNCTION(name, Op)                                                    \
  inline poplar::Tensor name(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B, \
                             poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {}, \
                             const poplar::OptionFlags &options = {}) {                              \
    return map(graph, expr::BinaryOpType::Op, A, B, prog, debugContext, options);                    \
  }                                                                                                  \
  template <typename constType>                                                                      \
  inline poplar::Tensor name(poplar::Graph &graph, const poplar::Tensor &A, const constType B,       \
                             poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {}, \
                             const poplar::OptionFlags &options = {}) {                              \
    return map(graph, expr::BinaryOp(expr::BinaryOpType::Op, expr::_1, expr::Const(B)), {A}, prog,  \
               debugContext, options);                                                               \
  }                                                                                                  \
  template <typename constType>                                                                      \
  inline poplar::Tensor name(poplar::Graph &graph, const constType A, const poplar::Tensor &B,       \
                             poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {}, \
                             const poplar::OptionFlags &options = {}) {                              \
    return map(graph, expr::BinaryOp(expr::BinaryOpType::Op, expr::Const(A), expr::_1), {B}, prog,  \
               debugContext, options);                                                               \
  }

#define POPOPS_EMULATOR_BINARY_IN_PLACE_FUNCTION(name, Op)                                           \
  inline void name(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B,           \
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},   \
                   const poplar::OptionFlags &options = {}) {                                        \
    mapInPlace(graph, expr::BinaryOpType::Op, A, B, prog, debugContext, options);                    \
  }                                                                                                  \
  template <typename constType>                                                                      \
  inline void name(poplar::Graph &graph, const poplar::Tensor &A, const constType B,                 \
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},   \
                   const poplar::OptionFlags &options = {}) {                                        \
    mapInPlace(graph, expr::BinaryOp(expr::BinaryOpType::Op, expr::_1, expr::Const(B)), {A}, prog,   \
               debugContext, options);                                                               \
  }

POPOPS_EMULATOR_BINARY_FUNCTION(add, ADD)
POPOPS_EMULATOR_BINARY_IN_PLACE_FUNCTION(addInPlace, ADD)
POPOPS_EMULATOR_BINARY_FUNCTION(sub, SUBTRACT)
POPOPS_EMULATOR_BINARY_IN_PLACE_FUNCTION(subInPlace, SUBTRACT)
POPOPS_EMULATOR_BINARY_FUNCTION(mul, MULTIPLY)
POPOPS_EMULATOR_BINARY_IN_PLACE_FUNCTION(mulInPlace, MULTIPLY)
POPOPS_EMULATOR_BINARY_FUNCTION(div, DIVIDE)
POPOPS_EMULATOR_BINARY_FUNCTION(max, MAXIMUM)
POPOPS_EMULATOR_BINARY_FUNCTION(min, MINIMUM)

#undef POPOPS_EMULATOR_UNARY_FUNCTION
#undef POPOPS_EMULATOR_BINARY_FUNCTION
#undef POPOPS_EMULATOR_BINARY_IN_PLACE_FUNCTION

} // namespace popops

#endif
