// popops dynamic slices: kernels over the gathered (contiguous) tensors; offsets are read when the
// program runs.
#include <popops/DynamicSlice.hpp>

#include "kernels/slice_kernels.h"
#include <poplar/exceptions.hpp>
#include "ops/op_support.h"

namespace popops {
namespace {

using poplar_emulator::SliceGeometry;

std::size_t bytesPerElement(const poplar::Tensor &t, const std::string &op) {
  const auto kind = poplar_emulator::elementKindOf(t.elementType(), op, "the sliced tensor");
  return kind == poplar_emulator::ElementKind::Bool ? 1 : 4;  // float/half arrive as float
}

SliceGeometry geometryOf(const poplar::Tensor &t, const std::vector<std::size_t> &dims,
                         const std::vector<std::size_t> &sizes, const std::string &op) {
  if (!t.valid())
    poplar_emulator::opError(op, "the sliced tensor is not a tensor");
  SliceGeometry g{t.shape(), dims, sizes, bytesPerElement(t, op)};
  try {
    poplar_emulator::checkSliceGeometry(g, op.c_str());
  } catch (const std::invalid_argument &e) {
    throw poplar::poplar_error(e.what());
  }
  return g;
}

std::vector<std::size_t> sliceShape(const SliceGeometry &g) {
  std::vector<std::size_t> shape = g.shape;
  for (std::size_t i = 0; i < g.dims.size(); ++i)
    shape[g.dims[i]] = g.sizes[i];
  return shape;
}

void checkOffsets(const poplar::Tensor &offsets, std::size_t perSlice, bool many, const std::string &op) {
  if (!offsets.valid())
    poplar_emulator::opError(op, "the offsets are not a tensor");
  if (offsets.elementType() != poplar::UNSIGNED_INT && offsets.elementType() != poplar::INT)
    poplar_emulator::opError(op, "offsets must be unsigned int");
  const bool fits = many ? (offsets.rank() == 2 && offsets.dim(1) == perSlice) || (offsets.rank() == 1 && perSlice == 1)
                         : offsets.numElements() == perSlice;
  if (!fits)
    poplar_emulator::opError(op, "offsets have shape " + poplar_emulator::shapeString(offsets.shape()) +
                                     (many ? "; expected [numIndices, " : "; expected [") + std::to_string(perSlice) +
                                     "]");
}

void checkSameType(const poplar::Tensor &a, const poplar::Tensor &b, const std::string &op) {
  if (!b.valid() || a.elementType() != b.elementType())
    poplar_emulator::opError(op, "the slice and the sliced tensor must have the same type");
}

void checkShape(const poplar::Tensor &t, const std::vector<std::size_t> &expected, const std::string &op,
                const char *what) {
  if (t.shape() != expected)
    poplar_emulator::opError(op, std::string(what) + " has shape " + poplar_emulator::shapeString(t.shape()) +
                                     "; expected " + poplar_emulator::shapeString(expected));
}

void *bytesOf(poplar_emulator::KernelArray &a) { return a.floats ? static_cast<void *>(a.floats) : a.raw; }
const void *bytesOf(const poplar_emulator::KernelArray &a) {
  return a.floats ? static_cast<const void *>(a.floats) : a.raw;
}

double sliceBytes(const SliceGeometry &g, std::size_t count) {
  return static_cast<double>(g.sliceElements() * count * g.elementSize);
}

poplar::Tensor addMultiSlice(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor *offsets,
                             std::vector<std::size_t> fixedOffsets, const SliceGeometry &g,
                             poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                             const std::string &op) {
  const std::size_t count = offsets ? (offsets->rank() == 2 ? offsets->dim(0) : offsets->numElements())
                                    : fixedOffsets.size();
  std::vector<std::size_t> shape = sliceShape(g);
  shape.insert(shape.begin(), count);
  poplar::Tensor out = poplar_emulator::createResult(graph, t.elementType(), shape, debugContext, "multiSlice");
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {t};
  if (offsets)
    kernel.inputs.push_back(*offsets);
  kernel.outputs = {out};
  kernel.cost.exchangeBytes = 2 * sliceBytes(g, count);
  const bool fromTensor = offsets != nullptr;
  kernel.body = [g, fromTensor, fixedOffsets, count, op](poplar_emulator::KernelIo &io) {
    const std::vector<std::size_t> at = fromTensor ? poplar_emulator::offsetsOf(io.input(1), op) : fixedOffsets;
    poplar_emulator::multiSliceKernel(g, bytesOf(io.input(0)), at.data(), count, bytesOf(io.output(0)));
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
  return out;
}

void addMultiUpdate(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s,
                    const poplar::Tensor *offsets, std::vector<std::size_t> fixedOffsets, const poplar::Tensor *scale,
                    const SliceGeometry &g, poplar::program::Sequence &prog, const std::string &op) {
  checkSameType(t, s, op);
  const std::size_t count = offsets ? (offsets->rank() == 2 ? offsets->dim(0) : offsets->numElements())
                                    : fixedOffsets.size();
  std::vector<std::size_t> shape = sliceShape(g);
  shape.insert(shape.begin(), count);
  checkShape(s, shape, op, "the slices");
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {s};
  if (offsets)
    kernel.inputs.push_back(*offsets);
  if (scale) {
    poplar_emulator::checkScalar(*scale, op, "the scale");
    if (!t.elementType().isFloatingPoint())
      poplar_emulator::opError(op, "multiUpdateAdd needs a float or half tensor");
    kernel.inputs.push_back(*scale);
  }
  kernel.outputs = {t};
  kernel.readOutputs = {0}; // the slices not updated keep their values
  kernel.cost.exchangeBytes = 2 * sliceBytes(g, count);
  kernel.cost.flops = scale ? 2.0 * static_cast<double>(g.sliceElements() * count) : 0.0;
  const bool fromTensor = offsets != nullptr, add = scale != nullptr;
  kernel.body = [g, fromTensor, add, fixedOffsets, count, op](poplar_emulator::KernelIo &io) {
    std::size_t next = 1;
    const std::vector<std::size_t> at = fromTensor ? poplar_emulator::offsetsOf(io.input(next++), op) : fixedOffsets;
    if (add) {
      const float scaleValue = poplar_emulator::scalarOf(io.input(next), op, "the scale");
      poplar_emulator::multiUpdateAddKernel(g, io.output(0).floats, io.input(0).floats, at.data(), count, scaleValue);
    } else {
      poplar_emulator::multiUpdateKernel(g, bytesOf(io.output(0)), bytesOf(io.input(0)), at.data(), count);
    }
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

} // namespace

SlicePlan::SlicePlan() = default;
SlicePlan::SlicePlan(const SlicePlan &) = default;
SlicePlan &SlicePlan::operator=(const SlicePlan &) = default;
SlicePlan::~SlicePlan() = default;

poplar::Tensor createSliceableTensor(poplar::Graph &graph, const poplar::Type &type, const std::vector<size_t> &shape,
                                     const std::vector<size_t> &dims, const std::vector<size_t> &sizes, std::size_t,
                                     const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::createSliceableTensor");
  SliceGeometry g{shape, dims, sizes, 4};
  try {
    poplar_emulator::checkSliceGeometry(g, op.c_str());
  } catch (const std::invalid_argument &e) {
    throw poplar::poplar_error(e.what());
  }
  return poplar_emulator::createResult(graph, type, shape, debugContext, "sliceable");
}

poplar::Tensor createSliceableTensor(poplar::Graph &graph, const poplar::Type &type, const std::vector<size_t> &shape,
                                     const std::vector<size_t> &dims, const std::vector<size_t> &sizes,
                                     const SlicePlan &, const poplar::OptionFlags &options,
                                     const poplar::DebugContext &debugContext) {
  poplar_emulator::OptionReader(options, poplar_emulator::opName(debugContext, "popops::createSliceableTensor"),
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  return createSliceableTensor(graph, type, shape, dims, sizes, 0, debugContext);
}

poplar::Tensor createSliceTensor(poplar::Graph &graph, const poplar::Tensor &t, const std::vector<size_t> &dims,
                                 const std::vector<size_t> &sizes, std::size_t numIndices,
                                 const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::createSliceTensor");
  std::vector<std::size_t> shape = sliceShape(geometryOf(t, dims, sizes, op));
  shape.insert(shape.begin(), numIndices);
  return poplar_emulator::createResult(graph, t.elementType(), shape, debugContext, "slice");
}

poplar::Tensor createSliceTensor(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                                 const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                                 std::size_t numIndices, const SlicePlan &, const poplar::OptionFlags &options,
                                 const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::createSliceTensor");
  poplar_emulator::OptionReader(options, op,
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  SliceGeometry g{shape, dims, sizes, 4};
  try {
    poplar_emulator::checkSliceGeometry(g, op.c_str());
  } catch (const std::invalid_argument &e) {
    throw poplar::poplar_error(e.what());
  }
  std::vector<std::size_t> sliced = sliceShape(g);
  sliced.insert(sliced.begin(), numIndices);
  return poplar_emulator::createResult(graph, type, sliced, debugContext, "slice");
}

poplar::Tensor createIndicesTensor(poplar::Graph &graph, const std::vector<std::size_t> &dims, std::size_t numIndices,
                                   const SlicePlan &, const poplar::OptionFlags &options,
                                   const poplar::DebugContext &debugContext) {
  poplar_emulator::OptionReader(options, poplar_emulator::opName(debugContext, "popops::createIndicesTensor"),
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  return poplar_emulator::createResult(graph, poplar::UNSIGNED_INT, {numIndices, dims.size()}, debugContext,
                                       "indices");
}

poplar::Tensor createSliceableTensorFromSlice(poplar::Graph &graph, const poplar::Tensor &s,
                                              const std::vector<std::size_t> &dims,
                                              const std::vector<std::size_t> &numSlices,
                                              const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::createSliceableTensorFromSlice");
  if (!s.valid())
    poplar_emulator::opError(op, "the slice is not a tensor");
  if (dims.size() != numSlices.size())
    poplar_emulator::opError(op, "dims and numSlices have different lengths");
  std::vector<std::size_t> shape = s.shape();
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] >= shape.size())
      poplar_emulator::opError(op, "dimension " + std::to_string(dims[i]) + " does not exist in the slice");
    shape[dims[i]] *= numSlices[i];
  }
  return poplar_emulator::createResult(graph, s.elementType(), shape, debugContext, "sliceable");
}

namespace {

// dynamicSlice's kernel, into out (a new tensor or the caller's).
void sliceInto(poplar::Graph &graph, const poplar::Tensor &out, const poplar::Tensor &t, const poplar::Tensor &offset,
               const SliceGeometry &g, poplar::program::Sequence &prog, const std::string &op) {
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {t, offset};
  kernel.outputs = {out};
  kernel.cost.exchangeBytes = 2 * sliceBytes(g, 1);
  kernel.body = [g, op](poplar_emulator::KernelIo &io) {
    const std::vector<std::size_t> at = poplar_emulator::offsetsOf(io.input(1), op);
    poplar_emulator::dynamicSliceKernel(g, bytesOf(io.input(0)), at.data(), bytesOf(io.output(0)));
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

} // namespace

poplar::Tensor dynamicSlice(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &offset,
                            const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                            poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                            const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::dynamicSlice");
  poplar_emulator::OptionReader(options, op, {"availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, dims, sizes, op);
  checkOffsets(offset, dims.size(), false, op);
  poplar::Tensor out = poplar_emulator::createResult(graph, t.elementType(), sliceShape(g), debugContext, "slice");
  sliceInto(graph, out, t, offset, g, prog, op);
  return out;
}

void dynamicSliceWithOutput(poplar::Graph &graph, const poplar::Tensor &output, const poplar::Tensor &t,
                            const poplar::Tensor &offset, const std::vector<std::size_t> &dims,
                            const std::vector<std::size_t> &sizes, poplar::program::Sequence &prog,
                            const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::dynamicSliceWithOutput");
  poplar_emulator::OptionReader(options, op, {"availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, dims, sizes, op);
  checkOffsets(offset, dims.size(), false, op);
  checkSameType(t, output, op);
  checkShape(output, sliceShape(g), op, "the output");
  sliceInto(graph, output, t, offset, g, prog, op);
}

void dynamicUpdate(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s, const poplar::Tensor &offset,
                   const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                   const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::dynamicUpdate");
  poplar_emulator::OptionReader(options, op, {"availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, dims, sizes, op);
  checkOffsets(offset, dims.size(), false, op);
  checkSameType(t, s, op);
  checkShape(s, sliceShape(g), op, "the update");
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {s, offset};
  kernel.outputs = {t};
  kernel.readOutputs = {0}; // the rest of t keeps its values
  kernel.cost.exchangeBytes = 2 * sliceBytes(g, 1);
  kernel.body = [g, op](poplar_emulator::KernelIo &io) {
    const std::vector<std::size_t> at = poplar_emulator::offsetsOf(io.input(1), op);
    poplar_emulator::dynamicUpdateKernel(g, bytesOf(io.output(0)), bytesOf(io.input(0)), at.data());
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
}

poplar::Tensor multiSlice(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &offsets,
                          const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                          poplar::program::Sequence &prog, const SlicePlan &, const poplar::OptionFlags &options,
                          const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::multiSlice");
  poplar_emulator::OptionReader(options, op,
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, dims, sizes, op);
  checkOffsets(offsets, dims.size(), true, op);
  return addMultiSlice(graph, t, &offsets, {}, g, prog, debugContext, op);
}

poplar::Tensor multiSlice(poplar::Graph &graph, const poplar::Tensor &t, poplar::ArrayRef<unsigned int> offsets,
                          std::size_t dim, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                          const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::multiSlice");
  poplar_emulator::OptionReader(options, op, {"availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, {dim}, {1}, op);
  return addMultiSlice(graph, t, nullptr, std::vector<std::size_t>(offsets.begin(), offsets.end()), g, prog,
                       debugContext, op);
}

void multiUpdate(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s, const poplar::Tensor &offsets,
                 const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                 poplar::program::Sequence &prog, const SlicePlan &, const poplar::OptionFlags &options,
                 const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::multiUpdate");
  poplar_emulator::OptionReader(options, op,
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, dims, sizes, op);
  checkOffsets(offsets, dims.size(), true, op);
  addMultiUpdate(graph, t, s, &offsets, {}, nullptr, g, prog, op);
}

void multiUpdateAdd(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s,
                    const poplar::Tensor &offsets, const poplar::Tensor &scale, const std::vector<std::size_t> &dims,
                    const std::vector<std::size_t> &sizes, poplar::program::Sequence &prog, const SlicePlan &,
                    const poplar::OptionFlags &options, const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::multiUpdateAdd");
  poplar_emulator::OptionReader(options, op,
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, dims, sizes, op);
  checkOffsets(offsets, dims.size(), true, op);
  addMultiUpdate(graph, t, s, &offsets, {}, &scale, g, prog, op);
}

void multiUpdateAdd(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s,
                    poplar::ArrayRef<unsigned int> offsets, const poplar::Tensor &scale, std::size_t dim,
                    poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                    const poplar::OptionFlags &options) {
  const std::string op = poplar_emulator::opName(debugContext, "popops::multiUpdateAdd");
  poplar_emulator::OptionReader(options, op, {"availableMemoryProportion"});
  const SliceGeometry g = geometryOf(t, {dim}, {1}, op);
  addMultiUpdate(graph, t, s, nullptr, std::vector<std::size_t>(offsets.begin(), offsets.end()), &scale, g, prog, op);
}

namespace embedding {

SlicePlan plan(const poplar::Graph &, const poplar::Type &, const std::size_t, const std::size_t,
               const std::vector<std::size_t> &, const poplar::OptionFlags &options) {
  poplar_emulator::OptionReader(options, "popops::embedding::plan",
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  return SlicePlan();
}

SlicePlan plan(const poplar::Graph &, const poplar::Type &, const std::size_t, const std::size_t, const std::size_t,
               const std::vector<std::size_t> &, const poplar::OptionFlags &options) {
  poplar_emulator::OptionReader(options, "popops::embedding::plan",
                                {"usedForSlice", "usedForUpdate", "operationForUpdate", "availableMemoryProportion"});
  return SlicePlan();
}

} // namespace embedding
} // namespace popops
