// popnn non-linearities: one kernel each, in float, rounded once to the tensor's type on write-back.
#include <popnn/NonLinearity.hpp>

#include "kernels/nonlinearity_kernels.h"
#include "ops/op_support.h"

namespace popnn {
namespace {

void checkType(NonLinearityType type, const poplar::Tensor &t, const std::string &op) {
  if (!t.valid())
    poplar_emulator::opError(op, "the tensor is not a tensor");
  if (!t.elementType().isFloatingPoint())
    poplar_emulator::opError(op, "non-linearities take float or half tensors");
  if (type == NonLinearityType::SOFTMAX_SCALED)
    poplar_emulator::opError(op, "SOFTMAX_SCALED is not implemented by the emulator; use SOFTMAX_STABLE");
  const bool softmax = type == NonLinearityType::SOFTMAX || type == NonLinearityType::SOFTMAX_STABLE;
  if (softmax && t.rank() == 0)
    poplar_emulator::opError(op, "a softmax needs at least one dimension");
}

std::size_t rowLength(const poplar::Tensor &t) { return t.rank() == 0 ? 1 : t.dim(t.rank() - 1); }

double flopsPerElement(NonLinearityType type) {
  switch (type) {
  case NonLinearityType::RELU:
  case NonLinearityType::HARD_SIGMOID: return 1;
  case NonLinearityType::SOFTMAX:
  case NonLinearityType::SOFTMAX_STABLE: return 5;
  default: return 10;  // a transcendental function and a few multiply-adds
  }
}

void addForward(poplar::Graph &graph, NonLinearityType type, const poplar::Tensor &in, const poplar::Tensor &out,
                poplar::program::Sequence &prog, const std::string &op) {
  checkType(type, in, op);
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {in};
  kernel.outputs = {out};
  kernel.cost.flops = flopsPerElement(type) * static_cast<double>(in.numElements());
  kernel.cost.half = in.elementType() == poplar::HALF;
  const std::size_t row = rowLength(in);
  kernel.body = [type, row](poplar_emulator::KernelIo &io) {
    poplar_emulator::nonLinearityKernel(type, io.input(0).floats, io.output(0).floats, io.output(0).numElements, row,
                                        &io.workers());
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

} // namespace

void nonLinearityInPlace(poplar::Graph &graph, NonLinearityType nonLinearityType, poplar::Tensor t,
                         poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  addForward(graph, nonLinearityType, t, t, prog, poplar_emulator::opName(debugContext, "popnn::nonLinearityInPlace"));
}

void nonLinearityInPlace(poplar::Graph &graph, NonLinearityType nonLinearityType, poplar::Tensor t,
                         float &nonLinearityScaling, poplar::program::Sequence &prog,
                         const poplar::DebugContext &debugContext) {
  nonLinearityInPlace(graph, nonLinearityType, t, prog, debugContext);
  nonLinearityScaling = 1.0f;
}

poplar::Tensor nonLinearity(poplar::Graph &graph, NonLinearityType nonLinearityType, poplar::Tensor t,
                            poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popnn::nonLinearity");
  checkType(nonLinearityType, t, op);
  poplar::Tensor out = graph.clone(t, {debugContext, "nonLinearity"});
  addForward(graph, nonLinearityType, t, out, prog, op);
  return out;
}

poplar::Tensor nonLinearity(poplar::Graph &graph, NonLinearityType nonLinearityType, poplar::Tensor t,
                            float &nonLinearityScaling, poplar::program::Sequence &prog,
                            const poplar::DebugContext &debugContext) {
  poplar::Tensor out = nonLinearity(graph, nonLinearityType, t, prog, debugContext);
  nonLinearityScaling = 1.0f;
  return out;
}

poplar::Tensor nonLinearityInputGradient(poplar::Graph &graph, NonLinearityType nonLinearityType, poplar::Tensor out,
                                         poplar::Tensor outGradient, poplar::program::Sequence &prog,
                                         const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popnn::nonLinearityInputGradient");
  checkType(nonLinearityType, out, op);
  checkType(nonLinearityType, outGradient, op);
  if (out.shape() != outGradient.shape())
    poplar_emulator::opError(op, "out has shape " + poplar_emulator::shapeString(out.shape()) +
                                     " but outGradient has " + poplar_emulator::shapeString(outGradient.shape()));
  poplar::Tensor inGradient = graph.clone(outGradient, {debugContext, "inputGradient"});
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {out, outGradient};
  kernel.outputs = {inGradient};
  kernel.cost.flops = (flopsPerElement(nonLinearityType) + 2) * static_cast<double>(out.numElements());
  kernel.cost.half = outGradient.elementType() == poplar::HALF;
  const std::size_t row = rowLength(out);
  kernel.body = [nonLinearityType, row](poplar_emulator::KernelIo &io) {
    poplar_emulator::nonLinearityGradientKernel(nonLinearityType, io.input(0).floats, io.input(1).floats,
                                                io.output(0).floats, io.output(0).numElements, row, &io.workers());
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
  return inGradient;
}

} // namespace popnn
