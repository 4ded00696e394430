// Emulated Poplar SDK: slices at offsets held in tensors. dynamicSlice/dynamicUpdate take one
// offset per sliced dimension (UNSIGNED_INT, shape [dims.size()]); an offset past the end wraps to
// the start of the dimension. multiSlice/multiUpdate/multiUpdateAdd take many (shape
// [numIndices, dims.size()]); a slice that does not fit reads zeros and such an update is skipped.
#ifndef POPOPS_DYNAMIC_SLICE_HPP
#define POPOPS_DYNAMIC_SLICE_HPP

#include <poplar/ArrayRef.hpp>
#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

#include <cstddef>
#include <vector>

namespace popops {

// A plan for multiSlice/multiUpdate. The emulator's slices need no planning: an empty plan (the
// default) and one from embedding::plan behave the same.
class SlicePlan {
public:
  SlicePlan();
  SlicePlan(const popops::SlicePlan &other);
  SlicePlan &operator=(const SlicePlan &other);
  ~SlicePlan();
};

poplar::Tensor createSliceableTensor(poplar::Graph &graph, const poplar::Type &type, const std::vector<size_t> &shape,
                                     const std::vector<size_t> &dims, const std::vector<size_t> &sizes,
                                     std::size_t minGrainSize = 0, const poplar::DebugContext &debugContext = {});

poplar::Tensor createSliceableTensor(poplar::Graph &graph, const poplar::Type &type, const std::vector<size_t> &shape,
                                     const std::vector<size_t> &dims, const std::vector<size_t> &sizes,
                                     const popops::SlicePlan &plan, const poplar::OptionFlags &options,
                                     const poplar::DebugContext &debugContext = {});

// A tensor for numIndices slices of t: shape [numIndices] + t's shape with dims resized to sizes.
poplar::Tensor createSliceTensor(poplar::Graph &graph, const poplar::Tensor &t, const std::vector<size_t> &dims,
                                 const std::vector<size_t> &sizes, std::size_t numIndices,
                                 const poplar::DebugContext &debugContext = {});

poplar::Tensor createSliceTensor(poplar::Graph &graph, const poplar::Type &type, const std::vector<std::size_t> &shape,
                                 const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                                 std::size_t numIndices, const popops::SlicePlan &plan,
                                 const poplar::OptionFlags &options, const poplar::DebugContext &debugContext = {});

// An UNSIGNED_INT tensor of shape [numIndices, dims.size()] for multiSlice offsets.
poplar::Tensor createIndicesTensor(poplar::Graph &graph, const std::vector<std::size_t> &dims, std::size_t numIndices,
                                   const popops::SlicePlan &plan, const poplar::OptionFlags &options,
                                   const poplar::DebugContext &debugContext = {});

// A tensor that numSlices[i] slices shaped like s fit along dims[i].
poplar::Tensor createSliceableTensorFromSlice(poplar::Graph &graph, const poplar::Tensor &s,
                                              const std::vector<std::size_t> &dims,
                                              const std::vector<std::size_t> &numSlices,
                                              const poplar::DebugContext &debugContext = {});

poplar::Tensor dynamicSlice(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &offset,
                            const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                            poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                            const poplar::OptionFlags &options = {});

// dynamicSlice into an existing tensor of the slice's shape and t's type.
void dynamicSliceWithOutput(poplar::Graph &graph, const poplar::Tensor &output, const poplar::Tensor &t,
                            const poplar::Tensor &offset, const std::vector<std::size_t> &dims,
                            const std::vector<std::size_t> &sizes, poplar::program::Sequence &prog,
                            const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {});

void dynamicUpdate(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s, const poplar::Tensor &offset,
                   const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                   poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                   const poplar::OptionFlags &options = {});

poplar::Tensor multiSlice(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &offsets,
                          const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                          poplar::program::Sequence &prog, const popops::SlicePlan &plan,
                          const poplar::OptionFlags &options, const poplar::DebugContext &debugContext = {});

// Slices of size 1 along dim at offsets fixed when the graph is built.
poplar::Tensor multiSlice(poplar::Graph &graph, const poplar::Tensor &t, poplar::ArrayRef<unsigned int> offsets,
                          std::size_t dim, poplar::program::Sequence &prog,
                          const poplar::DebugContext &debugContext = {}, const poplar::OptionFlags &options = {});

void multiUpdate(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s, const poplar::Tensor &offsets,
                 const std::vector<std::size_t> &dims, const std::vector<std::size_t> &sizes,
                 poplar::program::Sequence &prog, const popops::SlicePlan &plan, const poplar::OptionFlags &options,
                 const poplar::DebugContext &debugContext = {});

// t[offsets[i]] += scale * s[i], in order of i (scale: a FLOAT or t-typed scalar tensor).
void multiUpdateAdd(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s,
                    const poplar::Tensor &offsets, const poplar::Tensor &scale, const std::vector<std::size_t> &dims,
                    const std::vector<std::size_t> &sizes, poplar::program::Sequence &prog,
                    const popops::SlicePlan &plan, const poplar::OptionFlags &options,
                    const poplar::DebugContext &debugContext = {});

void multiUpdateAdd(poplar::Graph &graph, const poplar::Tensor &t, const poplar::Tensor &s,
                    poplar::ArrayRef<unsigned int> offsets, const poplar::Tensor &scale, std::size_t dim,
                    poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                    const poplar::OptionFlags &options = {});

namespace embedding {

// A plan for looking up rows of a [numEntries, outputSize] table.
popops::SlicePlan plan(const poplar::Graph &graph, const poplar::Type &dataType, const std::size_t numEntries,
                       const std::size_t outputSize, const std::vector<std::size_t> &numLookups,
                       const poplar::OptionFlags &options);

popops::SlicePlan plan(const poplar::Graph &graph, const poplar::Type &dataType, const std::size_t numGroups,
                       const std::size_t numEntries, const std::size_t outputSize,
                       const std::vector<std::size_t> &numLookups, const poplar::OptionFlags &options);

} // namespace embedding
} // namespace popops

#endif
