// poplin matmuls: one kernel per product, through OpenBLAS. An operand whose view, or whose
// transpose, is contiguous reaches the kernel without a copy (the transpose is handed to BLAS).
#include <poplin/MatMul.hpp>

#include "core/Access.hpp"
#include "core/TensorImpl.hpp"
#include "kernels/matmul_kernel.h"
#include "ops/op_support.h"

#include <poplar/exceptions.hpp>

#include <algorithm>
#include <set>
#include <string>

namespace poplin {

struct PlanningCache::Plans {
  std::set<std::string> keys;
};

PlanningCache::PlanningCache() : plans_(std::make_unique<Plans>()) {}
PlanningCache::~PlanningCache() = default;
std::size_t PlanningCache::size() const { return plans_->keys.size(); }

} // namespace poplin

namespace poplar_emulator {

struct PlanningCacheAccess {
  static void record(poplin::PlanningCache *cache, const std::string &key) {
    if (cache != nullptr)
      cache->plans_->keys.insert(key);
  }
};

namespace {

struct MatMulOptions {
  PartialsKind partials = PartialsKind::Float;
  double availableMemoryProportion = 0.6;  // the SDK's default
  std::string key;
};

MatMulOptions readOptions(const poplar::OptionFlags &options, const std::string &op) {
  const OptionReader reader(options, op, {"partialsType", "availableMemoryProportion", "fullyConnectedPass"});
  MatMulOptions result;
  const std::string partials = reader.get("partialsType", "float");
  if (partials == "half" || partials == "HALF")
    result.partials = PartialsKind::Half;
  else if (partials != "float" && partials != "FLOAT")
    opError(op, "option partialsType is \"" + partials + "\"; expected \"float\" or \"half\"");
  result.availableMemoryProportion = reader.getNumber("availableMemoryProportion", 0.6, 0.0, 1.0);
  const std::string pass = reader.get("fullyConnectedPass", "NONE");
  if (pass != "NONE" && pass != "INFERENCE_FWD" && pass != "TRAINING_FWD" && pass != "TRAINING_BWD" &&
      pass != "TRAINING_WU")
    opError(op, "option fullyConnectedPass is \"" + pass +
                    "\"; expected NONE, INFERENCE_FWD, TRAINING_FWD, TRAINING_BWD or TRAINING_WU");
  for (const auto &entry : options)
    result.key += entry.first + "=" + entry.second + ";";
  return result;
}

// The product's geometry: g groups of [m, k] x [k, n].
struct Geometry {
  std::size_t groups = 1, m = 0, k = 0, n = 0;
};

Geometry geometryOf(const poplar::Tensor &A, const poplar::Tensor &B, bool grouped, const std::string &op) {
  if (!A.valid() || !B.valid())
    opError(op, "A or B is not a tensor");
  const unsigned rank = grouped ? 3 : 2;
  if (A.rank() != rank || B.rank() != rank)
    opError(op, std::string(grouped ? "grouped products take [g, m, k] and [g, k, n]"
                                    : "products take [m, k] and [k, n]") +
                    "; A is " + shapeString(A.shape()) + " and B is " + shapeString(B.shape()));
  Geometry g;
  const unsigned off = grouped ? 1 : 0;
  if (grouped) {
    if (A.dim(0) != B.dim(0))
      opError(op, "A has " + std::to_string(A.dim(0)) + " groups but B has " + std::to_string(B.dim(0)));
    g.groups = A.dim(0);
  }
  g.m = A.dim(off);
  g.k = A.dim(off + 1);
  g.n = B.dim(off + 1);
  if (B.dim(off) != g.k)
    opError(op, "A is " + shapeString(A.shape()) + " and B is " + shapeString(B.shape()) +
                    ": A's columns must match B's rows");
  for (const poplar::Tensor *t : {&A, &B})
    if (!t->elementType().isFloatingPoint())
      opError(op, "operands must be float or half");
  return g;
}

// The view the kernel reads: the operand itself, or its stored transpose when that is contiguous.
struct OperandView {
  poplar::Tensor tensor;
  bool transposed = false;
};

// What gathering a view costs: one copy per run of consecutive elements.
std::size_t gatherRuns(const poplar::Tensor &t) {
  std::size_t runs = 0;
  for (const Segment &s : Access::impl(t)->segments)
    runs += s.stride == 1 || s.count <= 1 ? 1 : s.count;
  return runs;
}

// The view the kernel gathers: the operand as it is, or its transpose (the kernel then reads it transposed) when
// that is stored in fewer runs, as a transposed view of a contiguous tensor is.
OperandView operandView(const poplar::Tensor &t, bool grouped) {
  if (t.isContiguous())
    return {t, false};
  const poplar::Tensor stored = grouped ? t.dimShuffle({0, 2, 1}) : t.transpose();
  if (stored.isContiguous() || gatherRuns(stored) < gatherRuns(t))
    return {stored, true};
  return {t, false};
}

struct Product {
  poplar::Tensor out;         // the result, or C for an accumulation
  float alpha = 1.0f;
  poplar::Tensor alphaTensor; // a scalar read at run time, when valid
  bool accumulate = false;    // C += alpha A B rather than out = A B
};

void addMatMul(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B, const Product &product,
               bool grouped, poplar::program::Sequence &prog, const poplar::OptionFlags &options,
               poplin::PlanningCache *cache, const std::string &op) {
  const Geometry g = geometryOf(A, B, grouped, op);
  const MatMulOptions opts = readOptions(options, op);
  const std::vector<std::size_t> outShape =
      grouped ? std::vector<std::size_t>{g.groups, g.m, g.n} : std::vector<std::size_t>{g.m, g.n};
  if (!product.out.valid() || product.out.shape() != outShape)
    opError(op, "the output must have shape " + shapeString(outShape) +
                    (product.out.valid() ? ", not " + shapeString(product.out.shape()) : ""));
  if (!product.out.elementType().isFloatingPoint())
    opError(op, "the output must be float or half");
  if (product.alphaTensor.valid())
    checkScalar(product.alphaTensor, op, "the scale k");
  PlanningCacheAccess::record(cache, std::string(A.elementType().toString().cloneAsString()) + shapeString(A.shape()) +
                                         shapeString(B.shape()) + (grouped ? "g" : "") + opts.key);

  const OperandView a = operandView(A, grouped), b = operandView(B, grouped);
  Kernel kernel;
  kernel.name = op;
  kernel.inputs = {a.tensor, b.tensor};
  if (product.alphaTensor.valid())
    kernel.inputs.push_back(product.alphaTensor);
  kernel.outputs = {product.out};
  if (product.accumulate) kernel.readOutputs = {0}; // C += alpha A B
  kernel.cost.flops = 2.0 * static_cast<double>(g.groups * g.m * g.n * g.k);
  kernel.cost.unit = ComputeUnit::Amp;
  kernel.cost.half = A.elementType() == poplar::HALF && B.elementType() == poplar::HALF;
  // Temporaries: the partial sums and the operands rearranged for the AMP, capped at the share of
  // each IPU's memory that availableMemoryProportion allows (the SDK plans to stay within it).
  const double elementBytes = kernel.cost.half ? 2.0 : 4.0;
  const double partialBytes = opts.partials == PartialsKind::Half ? 2.0 : 4.0;
  const double wanted = static_cast<double>(g.groups) *
                        (static_cast<double>(g.m * g.n) * partialBytes + static_cast<double>(g.m * g.k + g.k * g.n) * elementBytes);
  const poplar::Target &target = graph.getTarget();
  const double allowed = opts.availableMemoryProportion * static_cast<double>(target.getBytesPerTile()) *
                         static_cast<double>(target.getTilesPerIPU());
  kernel.tempBytes = static_cast<std::size_t>(std::min(wanted, allowed));

  const bool tensorAlpha = product.alphaTensor.valid();
  const float alpha = product.alpha;
  const float beta = product.accumulate ? 1.0f : 0.0f;
  const bool aT = a.transposed, bT = b.transposed;
  const PartialsKind partials = opts.partials;
  kernel.body = [g, aT, bT, tensorAlpha, alpha, beta, partials, op](KernelIo &io) {
    const float scale = tensorAlpha ? scalarOf(io.input(2), op, "the scale k") : alpha;
    const MatrixOperand lhs{io.input(0).floats, aT ? g.m : g.k, g.m * g.k, aT};
    const MatrixOperand rhs{io.input(1).floats, bT ? g.k : g.n, g.k * g.n, bT};
    const MatrixResult result{io.output(0).floats, g.n, g.m * g.n};
    groupedMatMul(g.groups, g.m, g.n, g.k, lhs, rhs, result, scale, beta, partials, &io.workers());
  };
  addKernel(graph, prog, std::move(kernel));
}

poplar::Tensor newProduct(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B,
                          poplar::program::Sequence &prog, const poplar::Type &outputType, bool grouped,
                          const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                          poplin::PlanningCache *cache, const char *name) {
  const std::string op = opName(debugContext, name);
  const Geometry g = geometryOf(A, B, grouped, op);
  const std::vector<std::size_t> shape =
      grouped ? std::vector<std::size_t>{g.groups, g.m, g.n} : std::vector<std::size_t>{g.m, g.n};
  Product product;
  product.out = createResult(graph, outputType, shape, debugContext, "product");
  addMatMul(graph, A, B, product, grouped, prog, options, cache, op);
  return product.out;
}

std::vector<std::size_t> checkedShape(const std::vector<std::size_t> &shape, std::size_t rank, const char *which,
                                      const std::string &op) {
  if (shape.size() != rank)
    opError(op, std::string(which) + " shape " + shapeString(shape) + " must have rank " + std::to_string(rank));
  return shape;
}

std::vector<std::size_t> productShape(const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                      bool grouped, const std::string &op) {
  const std::size_t rank = grouped ? 3 : 2;
  checkedShape(aShape, rank, "aShape", op);
  checkedShape(bShape, rank, "bShape", op);
  if (aShape[rank - 1] != bShape[rank - 2] || (grouped && aShape[0] != bShape[0]))
    opError(op, "aShape " + shapeString(aShape) + " and bShape " + shapeString(bShape) + " do not multiply");
  return grouped ? std::vector<std::size_t>{aShape[0], aShape[1], bShape[2]}
                 : std::vector<std::size_t>{aShape[0], bShape[1]};
}

} // namespace
} // namespace poplar_emulator

namespace poplin {

using poplar_emulator::opName;

poplar::Tensor matMul(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B,
                      poplar::program::Sequence &prog, const poplar::Type &outputType,
                      const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                      PlanningCache *cache) {
  return poplar_emulator::newProduct(graph, A, B, prog, outputType, false, debugContext, options, cache,
                                     "poplin::matMul");
}

poplar::Tensor matMul(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B,
                      poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                      const poplar::OptionFlags &options, PlanningCache *cache) {
  if (!A.valid())
    poplar_emulator::opError(opName(debugContext, "poplin::matMul"), "A is not a tensor");
  return matMul(graph, A, B, prog, A.elementType(), debugContext, options, cache);
}

void matMulWithOutput(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B, poplar::Tensor &out,
                      poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                      const poplar::OptionFlags &options, PlanningCache *cache) {
  poplar_emulator::Product product;
  product.out = out;
  poplar_emulator::addMatMul(graph, A, B, product, false, prog, options, cache,
                             opName(debugContext, "poplin::matMulWithOutput"));
}

poplar::Tensor matMulGrouped(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B,
                             poplar::program::Sequence &prog, const poplar::Type &outputType,
                             const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                             PlanningCache *cache) {
  return poplar_emulator::newProduct(graph, A, B, prog, outputType, true, debugContext, options, cache,
                                     "poplin::matMulGrouped");
}

void matMulGroupedWithOutput(poplar::Graph &graph, const poplar::Tensor &A, const poplar::Tensor &B,
                             poplar::Tensor &out, poplar::program::Sequence &prog,
                             const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                             PlanningCache *cache) {
  poplar_emulator::Product product;
  product.out = out;
  poplar_emulator::addMatMul(graph, A, B, product, true, prog, options, cache,
                             opName(debugContext, "poplin::matMulGroupedWithOutput"));
}

void matMulAcc(poplar::Graph &graph, const poplar::Tensor &C, float k, const poplar::Tensor &A,
               const poplar::Tensor &B, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
               const poplar::OptionFlags &options, PlanningCache *cache) {
  poplar_emulator::Product product;
  product.out = C;
  product.alpha = k;
  product.accumulate = true;
  poplar_emulator::addMatMul(graph, A, B, product, false, prog, options, cache,
                             opName(debugContext, "poplin::matMulAcc"));
}

void matMulAcc(poplar::Graph &graph, const poplar::Tensor &C, const poplar::Tensor &k, const poplar::Tensor &A,
               const poplar::Tensor &B, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
               const poplar::OptionFlags &options, PlanningCache *cache) {
  poplar_emulator::Product product;
  product.out = C;
  product.alphaTensor = k;
  product.accumulate = true;
  poplar_emulator::addMatMul(graph, A, B, product, false, prog, options, cache,
                             opName(debugContext, "poplin::matMulAcc"));
}

void matMulGroupedAcc(poplar::Graph &graph, const poplar::Tensor &C, float k, const poplar::Tensor &A,
                      const poplar::Tensor &B, poplar::program::Sequence &prog,
                      const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                      PlanningCache *cache) {
  poplar_emulator::Product product;
  product.out = C;
  product.alpha = k;
  product.accumulate = true;
  poplar_emulator::addMatMul(graph, A, B, product, true, prog, options, cache,
                             opName(debugContext, "poplin::matMulGroupedAcc"));
}

void matMulGroupedAcc(poplar::Graph &graph, const poplar::Tensor &C, const poplar::Tensor &k,
                      const poplar::Tensor &A, const poplar::Tensor &B, poplar::program::Sequence &prog,
                      const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                      PlanningCache *cache) {
  poplar_emulator::Product product;
  product.out = C;
  product.alphaTensor = k;
  product.accumulate = true;
  poplar_emulator::addMatMul(graph, A, B, product, true, prog, options, cache,
                             opName(debugContext, "poplin::matMulGroupedAcc"));
}

namespace {

poplar::Tensor createOperand(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                             const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                             bool grouped, const poplar::DebugContext &debugContext,
                             const poplar::OptionFlags &options, PlanningCache *cache, const char *name) {
  const std::string op = opName(debugContext, name);
  poplar_emulator::readOptions(options, op);
  poplar_emulator::productShape(aShape, bShape, grouped, op);
  poplar_emulator::PlanningCacheAccess::record(cache, std::string(type.toString().cloneAsString()) +
                                                          poplar_emulator::shapeString(aShape) +
                                                          poplar_emulator::shapeString(bShape) + (grouped ? "g" : ""));
  return poplar_emulator::createResult(graph, type, shape, debugContext, name);
}

} // namespace

poplar::Tensor createMatMulInputLHS(poplar::Graph &graph, const poplar::Type &inputType, const poplar::Type &,
                                    const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                    const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                                    PlanningCache *cache) {
  return createOperand(graph, inputType, aShape, aShape, bShape, false, debugContext, options, cache,
                       "poplin::createMatMulInputLHS");
}

poplar::Tensor createMatMulInputLHS(poplar::Graph &graph, const poplar::Type &dataType,
                                    const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                    const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                                    PlanningCache *cache) {
  return createMatMulInputLHS(graph, dataType, dataType, aShape, bShape, debugContext, options, cache);
}

poplar::Tensor createMatMulGroupedInputLHS(poplar::Graph &graph, const poplar::Type &inputType, const poplar::Type &,
                                           const std::vector<std::size_t> &aShape,
                                           const std::vector<std::size_t> &bShape,
                                           const poplar::DebugContext &debugContext,
                                           const poplar::OptionFlags &options, PlanningCache *cache) {
  return createOperand(graph, inputType, aShape, aShape, bShape, true, debugContext, options, cache,
                       "poplin::createMatMulGroupedInputLHS");
}

poplar::Tensor createMatMulInputRHS(poplar::Graph &graph, const poplar::Type &inputType, const poplar::Type &,
                                    const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                    const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                                    PlanningCache *cache) {
  return createOperand(graph, inputType, bShape, aShape, bShape, false, debugContext, options, cache,
                       "poplin::createMatMulInputRHS");
}

poplar::Tensor createMatMulInputRHS(poplar::Graph &graph, const poplar::Type &dataType,
                                    const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                    const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                                    PlanningCache *cache) {
  return createMatMulInputRHS(graph, dataType, dataType, aShape, bShape, debugContext, options, cache);
}

poplar::Tensor createMatMulOutput(poplar::Graph &graph, const poplar::Type &, const poplar::Type &outputType,
                                  const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                  const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                                  PlanningCache *cache) {
  const std::string op = opName(debugContext, "poplin::createMatMulOutput");
  return createOperand(graph, outputType, poplar_emulator::productShape(aShape, bShape, false, op), aShape, bShape,
                       false, debugContext, options, cache, "poplin::createMatMulOutput");
}

poplar::Tensor createMatMulOutput(poplar::Graph &graph, const poplar::Type &dataType,
                                  const std::vector<std::size_t> &aShape, const std::vector<std::size_t> &bShape,
                                  const poplar::DebugContext &debugContext, const poplar::OptionFlags &options,
                                  PlanningCache *cache) {
  return createMatMulOutput(graph, dataType, dataType, aShape, bShape, debugContext, options, cache);
}

poplar::Tensor createMatMulGroupedInputRHS(poplar::Graph &graph, const poplar::Type &inputType, const poplar::Type &,
                                           const std::vector<std::size_t> &aShape,
                                           const std::vector<std::size_t> &bShape,
                                           const poplar::DebugContext &debugContext,
                                           const poplar::OptionFlags &options, PlanningCache *cache) {
  return createOperand(graph, inputType, bShape, aShape, bShape, true, debugContext, options, cache,
                       "poplin::createMatMulGroupedInputRHS");
}

poplar::Tensor createMatMulGroupedOutput(poplar::Graph &graph, const poplar::Type &, const poplar::Type &outputType,
                                         const std::vector<std::size_t> &aShape,
                                         const std::vector<std::size_t> &bShape,
                                         const poplar::DebugContext &debugContext,
                                         const poplar::OptionFlags &options, PlanningCache *cache) {
  const std::string op = opName(debugContext, "poplin::createMatMulGroupedOutput");
  return createOperand(graph, outputType, poplar_emulator::productShape(aShape, bShape, true, op), aShape, bShape,
                       true, debugContext, options, cache, "poplin::createMatMulGroupedOutput");
}

poplar::Tensor transposeGroupedMatrix(const poplar::Tensor &A) {
  if (!A.valid() || A.rank() != 3)
    throw poplar::poplar_error("poplin::transposeGroupedMatrix: expected a [g, m, k] tensor");
  return A.dimShuffle({0, 2, 1});
}

} // namespace poplin
