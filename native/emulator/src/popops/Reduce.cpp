// popops::reduce: one kernel reducing the (gathered, contiguous) input with float partials.
#include <popops/Reduce.hpp>

#include "kernels/reduce_kernel.h"
#include "ops/op_support.h"


namespace popops {
namespace {

std::vector<std::size_t> keptShape(const poplar::Tensor &in, const std::vector<std::size_t> &dims,
                                   std::vector<bool> &reduced, const std::string &op) {
  reduced.assign(in.rank(), false);
  for (std::size_t d : dims) {
    if (d >= in.rank())
      poplar_emulator::opError(op, "dimension " + std::to_string(d) + " does not exist in the rank-" +
                                       std::to_string(in.rank()) + " input " +
                                       poplar_emulator::shapeString(in.shape()));
    if (reduced[d])
      poplar_emulator::opError(op, "dimension " + std::to_string(d) + " listed twice");
    reduced[d] = true;
  }
  std::vector<std::size_t> shape;
  for (unsigned d = 0; d < in.rank(); ++d)
    if (!reduced[d])
      shape.push_back(in.dim(d));
  return shape;
}

void addReduceKernel(poplar::Graph &graph, const poplar::Tensor &in, const poplar::Tensor &out,
                     const std::vector<std::size_t> &dims, const ReduceParams &params, poplar::program::Sequence &prog,
                     const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::reduce");
  poplar_emulator::OptionReader(options, op, {});
  if (!in.valid() || !out.valid())
    poplar_emulator::opError(op, "input or output is not a tensor");
  poplar_emulator::ReduceShape shape;
  shape.shape = in.shape();
  const std::vector<std::size_t> outShape = keptShape(in, dims, shape.reduced, op);
  if (out.shape() != outShape && !(outShape.empty() && out.numElements() == 1))
    poplar_emulator::opError(op, "output shape " + poplar_emulator::shapeString(out.shape()) + " is not the kept shape " +
                                     poplar_emulator::shapeString(outShape));
  const poplar_emulator::ElementKind inKind = poplar_emulator::elementKindOf(in.elementType(), op, "the input");
  const poplar_emulator::ElementKind outKind = poplar_emulator::elementKindOf(out.elementType(), op, "the output");
  const bool logical = params.op == Operation::LOGICAL_AND || params.op == Operation::LOGICAL_OR;
  if (logical != (inKind == poplar_emulator::ElementKind::Bool))
    poplar_emulator::opError(op, logical ? "LOGICAL_AND and LOGICAL_OR reduce bool tensors"
                                         : "only LOGICAL_AND and LOGICAL_OR reduce bool tensors");
  if (!poplar_emulator::isFloating(inKind) && !logical)
    poplar_emulator::opError(op, "the emulator reduces float, half and bool tensors");
  if (logical && outKind != poplar_emulator::ElementKind::Bool)
    poplar_emulator::opError(op, "a logical reduction's output must be bool");
  if (!logical && !poplar_emulator::isFloating(outKind))
    poplar_emulator::opError(op, "the output of a float or half reduction must be float or half");
  if (params.update && params.op != Operation::ADD && params.op != Operation::SQUARE_ADD)
    poplar_emulator::opError(op, "update is only supported with ADD and SQUARE_ADD");
  if (params.useScale)
    poplar_emulator::checkScalar(params.scale, op, "the scale");

  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {in};
  if (params.useScale)
    kernel.inputs.push_back(params.scale);
  kernel.outputs = {out};
  if (params.update) kernel.readOutputs = {0}; // out += reduce(in)
  kernel.cost.flops = static_cast<double>(in.numElements());
  kernel.cost.half = inKind == poplar_emulator::ElementKind::Half;
  const Operation operation = params.op;
  const bool update = params.update, useScale = params.useScale;
  kernel.body = [shape, operation, update, useScale, logical, op](poplar_emulator::KernelIo &io) {
    const float scale = useScale ? poplar_emulator::scalarOf(io.input(1), op, "the scale") : 1.0f;
    if (!logical) {
      poplar_emulator::reduce(operation, io.input(0).floats, shape, io.output(0).floats, scale, update,
                              &io.workers());
      return;
    }
    // Bool tensors reach the kernel as bytes: reduce them as 0/1 floats.
    const auto *bytes = io.input(0).as<unsigned char>();
    std::vector<float> values(bytes, bytes + io.input(0).numElements);
    std::vector<float> result(io.output(0).numElements);
    poplar_emulator::reduce(operation, values.data(), shape, result.data(), 1.0f, false);
    auto *flags = io.output(0).as<unsigned char>();
    for (std::size_t i = 0; i < result.size(); ++i)
      flags[i] = result[i] != 0.0f;
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

} // namespace

poplar::Tensor reduce(poplar::Graph &graph, const poplar::Tensor &in, const poplar::Type &outType,
                      const std::vector<std::size_t> &dims, ReduceParams params, poplar::program::Sequence &prog,
                      const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::reduce");
  if (params.update)
    poplar_emulator::opError(op, "update needs an output: use reduceWithOutput");
  if (!in.valid())
    poplar_emulator::opError(op, "the input is not a tensor");
  std::vector<bool> reduced;
  const std::vector<std::size_t> outShape = keptShape(in, dims, reduced, op);
  poplar::Tensor out = poplar_emulator::createResult(graph, outType, outShape, debugContext, "reduced");
  addReduceKernel(graph, in, out, dims, params, prog, debugContext, options);
  return out;
}

poplar::Tensor reduce(poplar::Graph &graph, const poplar::Tensor &in, const std::vector<std::size_t> &dims,
                      ReduceParams params, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                      const poplar::OptionFlags &options) {
  if (!in.valid())
    poplar_emulator::opError(poplar_emulator::opName(debugContext, "popops::reduce"), "the input is not a tensor");
  return reduce(graph, in, in.elementType(), dims, params, prog, debugContext, options);
}

void reduceWithOutput(poplar::Graph &graph, const poplar::Tensor &in, const poplar::Tensor &out,
                      const std::vector<std::size_t> &dims, ReduceParams params, poplar::program::Sequence &prog,
                      const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  addReduceKernel(graph, in, out, dims, params, prog, debugContext, options);
}

} // namespace popops
