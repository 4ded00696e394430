// What the op libraries share on top of the core's kernel hook: element kinds of poplar types,
// result tensors, kernel arrays as kernel inputs, and errors that name the op and its tensors.
#pragma once

#include "core/Kernel.hpp"
#include "kernels/element_kind.h"
#include "kernels/map_expression.h"

#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace poplar_emulator {

// The op's name in messages and reports: the debug context's path, or the op when it has none.
std::string opName(const poplar::DebugContext &debugContext, const char *op);

// Throws poplar::poplar_error: "<op>: <message>".
[[noreturn]] void opError(const std::string &op, const std::string &message);

// FLOAT, HALF, INT, UNSIGNED_INT or BOOL; any other type is refused naming op and what.
ElementKind elementKindOf(const poplar::Type &type, const std::string &op, const std::string &what);
poplar::Type typeOfKind(ElementKind kind);

std::string shapeString(const std::vector<std::size_t> &shape);

// A new variable for an op's result, spread over the graph's tiles (like the SDK's results).
poplar::Tensor createResult(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                            const poplar::DebugContext &debugContext, const std::string &name);

// The result of an element-wise op: laid out like `like` when it has the shape, else spread linearly.
poplar::Tensor createResultLike(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                                const std::vector<poplar::Tensor> &like, const poplar::DebugContext &debugContext,
                                const std::string &name);

// A kernel array as an input of the map evaluator.
MapInput mapInputOf(const KernelArray &array, ElementKind kind);
MapOutput mapOutputOf(KernelArray &array, ElementKind kind);

// Elements of an UNSIGNED_INT or INT kernel array as offsets.
std::vector<std::size_t> offsetsOf(const KernelArray &array, const std::string &op);

// The value of a scalar FLOAT or HALF kernel array.
float scalarOf(const KernelArray &array, const std::string &op, const char *what);

// Checks that a tensor is a scalar of a floating-point type (a scale).
void checkScalar(const poplar::Tensor &t, const std::string &op, const char *what);

// Options an op accepts: anything else is refused, naming the option.
struct OptionReader {
  OptionReader(const poplar::OptionFlags &options, const std::string &op, std::vector<std::string> known);
  // The value of option, or fallback when it is not set.
  std::string get(const std::string &option, const std::string &fallback) const;
  double getNumber(const std::string &option, double fallback, double lo, double hi) const;

private:
  const poplar::OptionFlags &options_;
  std::string op_;
};

} // namespace poplar_emulator
