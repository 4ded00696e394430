// popops::scaledAddTo / scaledSubtractFrom: A = a A + b B in float, rounded once to A's type.
#include <popops/ScaledAdd.hpp>

#include "ops/op_support.h"

namespace popops {
namespace {

// A scale: a constant, or a scalar tensor read when the program runs; negated for subtraction.
struct Scale {
  float constant = 1.0f;
  poplar::Tensor tensor;
  bool negate = false;
};

void addScaledAdd(poplar::Graph &graph, const poplar::Tensor &A, Scale scaleA, const poplar::Tensor &B, Scale scaleB,
                  bool xMinusAx, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                  const poplar::OptionFlags &options, const char *name) {
  const std::string op = poplar_emulator::opName(debugContext, name);
  poplar_emulator::OptionReader(options, op, {"optimizeForSpeed"});
  if (!A.valid() || !B.valid())
    poplar_emulator::opError(op, "A or B is not a tensor");
  if (A.shape() != B.shape())
    poplar_emulator::opError(op, "A has shape " + poplar_emulator::shapeString(A.shape()) + " but B has " +
                                     poplar_emulator::shapeString(B.shape()));
  if (!poplar_emulator::isFloating(poplar_emulator::elementKindOf(A.elementType(), op, "A")) ||
      !poplar_emulator::isFloating(poplar_emulator::elementKindOf(B.elementType(), op, "B")))
    poplar_emulator::opError(op, "A and B must be float or half");
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {B};
  const bool tensorA = scaleA.tensor.valid(), tensorB = scaleB.tensor.valid();
  if (tensorA) {
    poplar_emulator::checkScalar(scaleA.tensor, op, "scaleA");
    kernel.inputs.push_back(scaleA.tensor);
  }
  if (tensorB) {
    poplar_emulator::checkScalar(scaleB.tensor, op, "scaleB");
    kernel.inputs.push_back(scaleB.tensor);
  }
  kernel.outputs = {A};
  kernel.readOutputs = {0}; // A += ...
  kernel.cost.flops = 3.0 * static_cast<double>(A.numElements());
  kernel.cost.half = A.elementType() == poplar::HALF;
  kernel.body = [scaleA, scaleB, tensorA, tensorB, xMinusAx, op](poplar_emulator::KernelIo &io) {
    std::size_t next = 1;
    float a = tensorA ? poplar_emulator::scalarOf(io.input(next++), op, "scaleA") : scaleA.constant;
    float b = tensorB ? poplar_emulator::scalarOf(io.input(next++), op, "scaleB") : scaleB.constant;
    if (xMinusAx)
      a = 1.0f - a;
    if (scaleA.negate)
      a = -a;
    if (scaleB.negate)
      b = -b;
    float *x = io.output(0).floats;
    const float *y = io.input(0).floats;
    const std::size_t n = io.output(0).numElements;
    if (a == 1.0f) {
      for (std::size_t i = 0; i < n; ++i)
        x[i] += b * y[i];
    } else {
      for (std::size_t i = 0; i < n; ++i)
        x[i] = a * x[i] + b * y[i];
    }
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

Scale constant(float value, bool negate = false) { return Scale{value, {}, negate}; }
Scale tensor(const poplar::Tensor &t, bool negate = false) { return Scale{1.0f, t, negate}; }

} // namespace

void scaledAddTo(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor B, float scaleB,
                 poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                 const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(1), B, constant(scaleB), false, prog, debugContext, options, "popops::scaledAddTo");
}

void scaledAddTo(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor B, poplar::Tensor scaleB,
                 poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                 const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(1), B, tensor(scaleB), false, prog, debugContext, options, "popops::scaledAddTo");
}

void scaledSubtractFrom(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor B, float scaleB,
                        poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                        const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(1), B, constant(scaleB, true), false, prog, debugContext, options,
               "popops::scaledSubtractFrom");
}

void scaledSubtractFrom(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor B, poplar::Tensor scaleB,
                        poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                        const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(1), B, tensor(scaleB, true), false, prog, debugContext, options,
               "popops::scaledSubtractFrom");
}

void scaledAddTo(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor scaleA, poplar::Tensor B,
                 poplar::Tensor scaleB, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                 const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, tensor(scaleA), B, tensor(scaleB), false, prog, debugContext, options, "popops::scaledAddTo");
}

void scaledAddTo(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor scaleA, poplar::Tensor B,
                 poplar::Tensor scaleB, poplar::program::Sequence &prog, const ScaledAddSpecialisation speciality,
                 const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, tensor(scaleA), B, tensor(scaleB), speciality == ScaledAddSpecialisation::X_MINUS_AX_PLUS_BY,
               prog, debugContext, options, "popops::scaledAddTo");
}

void scaledAddTo(poplar::Graph &graph, poplar::Tensor A, float scaleA, poplar::Tensor B, float scaleB,
                 poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                 const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(scaleA), B, constant(scaleB), false, prog, debugContext, options,
               "popops::scaledAddTo");
}

void scaledAddTo(poplar::Graph &graph, poplar::Tensor A, float scaleA, poplar::Tensor B, float scaleB,
                 poplar::program::Sequence &prog, const ScaledAddSpecialisation speciality,
                 const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(scaleA), B, constant(scaleB),
               speciality == ScaledAddSpecialisation::X_MINUS_AX_PLUS_BY, prog, debugContext, options,
               "popops::scaledAddTo");
}

void scaledSubtractFrom(poplar::Graph &graph, poplar::Tensor A, poplar::Tensor scaleA, poplar::Tensor B,
                        poplar::Tensor scaleB, poplar::program::Sequence &prog,
                        const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, tensor(scaleA), B, tensor(scaleB, true), false, prog, debugContext, options,
               "popops::scaledSubtractFrom");
}

void scaledSubtractFrom(poplar::Graph &graph, poplar::Tensor A, float scaleA, poplar::Tensor B, float scaleB,
                        poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                        const poplar::OptionFlags &options) {
  addScaledAdd(graph, A, constant(scaleA), B, constant(scaleB, true), false, prog, debugContext, options,
               "popops::scaledSubtractFrom");
}

} // namespace popops
