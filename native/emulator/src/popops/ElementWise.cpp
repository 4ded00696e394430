// popops::map, mapInPlace and mapWithOutput: expressions lowered and compiled once when the graph
// is built, evaluated chunk by chunk by one kernel when the program runs.
#include <popops/ElementWise.hpp>

#include "ops/op_support.h"
#include "popops/expr_lowering.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace popops {
namespace {

using poplar_emulator::ElementKind;
using poplar_emulator::MapProgram;

struct CompiledMap {
  std::shared_ptr<const MapProgram> program;
  std::vector<ElementKind> inputKinds;
  std::vector<std::size_t> outShape;
};

CompiledMap compile(const std::vector<const expr::Expr *> &exprs, const std::vector<poplar::Tensor> &ts,
                    const std::string &op) {
  std::vector<poplar_emulator::MapNode> nodes;
  std::vector<std::size_t> roots;
  for (const expr::Expr *e : exprs)
    roots.push_back(poplar_emulator::ExprAccess::lower(*e, nodes, op));
  const unsigned used = poplar_emulator::ExprAccess::highestPlaceholder(nodes);
  if (used > ts.size())
    poplar_emulator::opError(op, "the expression uses _" + std::to_string(used) + " but " + std::to_string(ts.size()) +
                                     " tensors were given");
  CompiledMap compiled;
  std::vector<std::vector<std::size_t>> shapes;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (!ts[i].valid())
      poplar_emulator::opError(op, "tensor _" + std::to_string(i + 1) + " is not a tensor");
    compiled.inputKinds.push_back(
        poplar_emulator::elementKindOf(ts[i].elementType(), op, "tensor _" + std::to_string(i + 1)));
    shapes.push_back(ts[i].shape());
  }
  try {
    compiled.outShape = poplar_emulator::broadcastShape(shapes);
    compiled.program = std::make_shared<const MapProgram>(nodes, roots, compiled.inputKinds);
  } catch (const std::invalid_argument &e) {
    poplar_emulator::opError(op, e.what());
  }
  return compiled;
}

// Inputs that overlap an output without being the same elements are evaluated from a copy, so a
// chunk's writes never feed a later chunk's reads.
bool overlapsDifferently(const poplar_emulator::KernelArray &in, const poplar_emulator::KernelArray &out) {
  const auto *inBegin = static_cast<const unsigned char *>(in.floats ? static_cast<const void *>(in.floats) : in.raw);
  const auto *outBegin = static_cast<const unsigned char *>(out.floats ? static_cast<const void *>(out.floats) : out.raw);
  if (inBegin == nullptr || outBegin == nullptr || inBegin == outBegin)
    return false;
  const std::size_t inBytes = in.numElements * (in.floats ? sizeof(float) : in.elementBytes);
  const std::size_t outBytes = out.numElements * (out.floats ? sizeof(float) : out.elementBytes);
  return inBegin < outBegin + outBytes && outBegin < inBegin + inBytes;
}

void addMapKernel(poplar::Graph &graph, poplar::program::Sequence &prog, const CompiledMap &compiled,
                  const std::vector<poplar::Tensor> &ts, const std::vector<poplar::Tensor> &outs,
                  const std::string &op) {
  const auto &kinds = compiled.program->resultKinds();
  for (std::size_t r = 0; r < outs.size(); ++r) {
    if (outs[r].shape() != compiled.outShape)
      poplar_emulator::opError(op, "output " + std::to_string(r) + " has shape " +
                                       poplar_emulator::shapeString(outs[r].shape()) + " but the inputs broadcast to " +
                                       poplar_emulator::shapeString(compiled.outShape));
    const ElementKind outKind = poplar_emulator::elementKindOf(outs[r].elementType(), op, "the output");
    if (outKind != kinds[r])
      poplar_emulator::opError(op, "output " + std::to_string(r) + " has type " +
                                       poplar_emulator::elementKindName(outKind) + " but the expression gives " +
                                       poplar_emulator::elementKindName(kinds[r]));
  }
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = ts;
  kernel.outputs = outs;
  std::size_t elements = 1;
  for (std::size_t d : compiled.outShape)
    elements *= d;
  kernel.cost.flops = static_cast<double>(elements * compiled.program->operationCount());
  kernel.cost.half = std::any_of(kinds.begin(), kinds.end(), [](ElementKind k) { return k == ElementKind::Half; });
  std::vector<ElementKind> outKinds(kinds.begin(), kinds.begin() + static_cast<std::ptrdiff_t>(outs.size()));
  kernel.body = [compiled, outKinds](poplar_emulator::KernelIo &io) {
    std::vector<poplar_emulator::MapInput> inputs;
    std::vector<std::vector<float>> floatCopies;
    std::vector<std::vector<unsigned char>> rawCopies;
    for (std::size_t i = 0; i < io.numInputs(); ++i) {
      const poplar_emulator::KernelArray &array = io.input(i);
      poplar_emulator::MapInput input = poplar_emulator::mapInputOf(array, compiled.inputKinds[i]);
      for (std::size_t o = 0; o < io.numOutputs(); ++o)
        if (overlapsDifferently(array, io.output(o))) {
          if (array.floats) {
            floatCopies.emplace_back(array.floats, array.floats + array.numElements);
            input.data = floatCopies.back().data();
          } else {
            const auto *bytes = static_cast<const unsigned char *>(array.raw);
            rawCopies.emplace_back(bytes, bytes + array.numElements * array.elementBytes);
            input.data = rawCopies.back().data();
          }
          break;
        }
      inputs.push_back(input);
    }
    std::vector<poplar_emulator::MapOutput> outputs;
    for (std::size_t o = 0; o < io.numOutputs(); ++o)
      outputs.push_back(poplar_emulator::mapOutputOf(io.output(o), outKinds[o]));
    compiled.program->run(inputs, compiled.outShape, outputs, &io.workers());
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

std::vector<const expr::Expr *> pointersTo(const std::vector<expr::Any> &exprs) {
  std::vector<const expr::Expr *> pointers;
  for (const expr::Any &e : exprs)
    pointers.push_back(&static_cast<const expr::Expr &>(e));
  return pointers;
}

std::vector<poplar::Tensor> mapToNew(poplar::Graph &graph, const std::vector<const expr::Expr *> &exprs,
                                     const std::vector<poplar::Tensor> &ts, poplar::program::Sequence &prog,
                                     const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::map");
  poplar_emulator::OptionReader(options, op, {});
  const CompiledMap compiled = compile(exprs, ts, op);
  std::vector<poplar::Tensor> outs;
  for (ElementKind kind : compiled.program->resultKinds())
    outs.push_back(poplar_emulator::createResultLike(graph, poplar_emulator::typeOfKind(kind), compiled.outShape, ts,
                                                     debugContext, "map"));
  addMapKernel(graph, prog, compiled, ts, outs, op);
  return outs;
}

} // namespace

poplar::Tensor map(poplar::Graph &graph, const expr::Expr &expr, const std::vector<poplar::Tensor> &ts,
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                   const poplar::OptionFlags &options) {
  return mapToNew(graph, {&expr}, ts, prog, debugContext, options)[0];
}

std::vector<poplar::Tensor> map(poplar::Graph &graph, const std::vector<expr::Any> &exprs,
                                const std::vector<poplar::Tensor> &ts, poplar::program::Sequence &prog,
                                const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  return mapToNew(graph, pointersTo(exprs), ts, prog, debugContext, options);
}

void mapInPlace(poplar::Graph &graph, const expr::Expr &expr, const std::vector<poplar::Tensor> &ts,
                poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::mapInPlace");
  poplar_emulator::OptionReader(options, op, {});
  if (ts.empty())
    poplar_emulator::opError(op, "no tensor to write the result over");
  addMapKernel(graph, prog, compile({&expr}, ts, op), ts, {ts[0]}, op);
}

void mapInPlace(poplar::Graph &graph, const std::vector<expr::Any> &exprs, const std::vector<poplar::Tensor> &ts,
                poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::mapInPlace");
  poplar_emulator::OptionReader(options, op, {});
  if (ts.size() < exprs.size())
    poplar_emulator::opError(op, std::to_string(exprs.size()) + " expressions but only " + std::to_string(ts.size()) +
                                     " tensors to write them over");
  addMapKernel(graph, prog, compile(pointersTo(exprs), ts, op), ts,
               std::vector<poplar::Tensor>(ts.begin(), ts.begin() + static_cast<std::ptrdiff_t>(exprs.size())), op);
}

void mapWithOutput(poplar::Graph &graph, const expr::Expr &expr, const std::vector<poplar::Tensor> &ts,
                   const poplar::Tensor &out, poplar::program::Sequence &prog,
                   const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::mapWithOutput");
  poplar_emulator::OptionReader(options, op, {});
  addMapKernel(graph, prog, compile({&expr}, ts, op), ts, {out}, op);
}

void mapWithOutput(poplar::Graph &graph, const std::vector<expr::Any> &exprs, const std::vector<poplar::Tensor> &ts,
                   const std::vector<poplar::Tensor> &outs, poplar::program::Sequence &prog,
                   const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::mapWithOutput");
  poplar_emulator::OptionReader(options, op, {});
  if (outs.size() != exprs.size())
    poplar_emulator::opError(op, std::to_string(exprs.size()) + " expressions but " + std::to_string(outs.size()) +
                                     " outputs");
  addMapKernel(graph, prog, compile(pointersTo(exprs), ts, op), ts, outs, op);
}

} // namespace popops
