// Emulated Poplar SDK: popnn non-linearities, computed in float and rounded once to the tensor's
// type. Softmaxes act along the innermost dimension. GELU is the tanh approximation.
// nonLinearityInputGradient takes the forward output, except for GELU, GELU_ERF and SWISH, which
// take the forward input. SOFTMAX_SCALED is refused.
#ifndef POPNN_NON_LINEARITY_HPP
#define POPNN_NON_LINEARITY_HPP

#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <popnn/NonLinearityDef.hpp>

namespace popnn {

void nonLinearityInPlace(poplar::Graph &graph, popnn::NonLinearityType nonLinearityType, poplar::Tensor t,
                         poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {});

// nonLinearityScaling is set to the factor the output carries: 1 for every type the emulator runs.
void nonLinearityInPlace(poplar::Graph &graph, popnn::NonLinearityType nonLinearityType, poplar::Tensor t,
                         float &nonLinearityScaling, poplar::program::Sequence &prog,
                         const poplar::DebugContext &debugContext = {});

poplar::Tensor nonLinearity(poplar::Graph &graph, popnn::NonLinearityType nonLinearityType, poplar::Tensor t,
                            poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {});

poplar::Tensor nonLinearity(poplar::Graph &graph, popnn::NonLinearityType nonLinearityType, poplar::Tensor t,
                            float &nonLinearityScaling, poplar::program::Sequence &prog,
                            const poplar::DebugContext &debugContext = {});

poplar::Tensor nonLinearityInputGradient(poplar::Graph &graph, popnn::NonLinearityType nonLinearityType,
                                         poplar::Tensor out, poplar::Tensor outGradient,
                                         poplar::program::Sequence &prog,
                                         const poplar::DebugContext &debugContext = {});

} // namespace popnn

#endif
