// Emulated Poplar SDK: random numbers. With a seed tensor (2 UNSIGNED_INT values) the numbers are a
// function of seed, seedModifier and element index only (Philox4x32-10), so a dropout mask can be
// regenerated exactly; reference gives the output's shape. Without a seed (nullptr) they come from the
// replica's hardware generator (poplar::getHwSeeds/setHwSeeds), which each call advances; setSeed
// sets it.
#ifndef POPRAND_RANDOM_GEN_HPP
#define POPRAND_RANDOM_GEN_HPP

#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

#include <cstdint>

namespace poprand {

// Each element of input kept and multiplied by scale with probability keepProbability, else 0.
poplar::Tensor dropout(poplar::Graph &graph, const poplar::Tensor *seed, const uint32_t seedModifier,
                       const poplar::Tensor &input, const poplar::Tensor &reference, double keepProbability,
                       double scale, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {});

// outputClonesInput: the result is laid out like input (else like reference); the values are the same.
poplar::Tensor dropout(poplar::Graph &graph, const poplar::Tensor *seed, const uint32_t seedModifier,
                       const poplar::Tensor &input, const poplar::Tensor &reference, double keepProbability,
                       double scale, bool outputClonesInput, poplar::program::Sequence &prog,
                       const poplar::DebugContext &debugContext = {});

// Uniform in [minVal, maxVal) for FLOAT and HALF; in [minVal, maxVal] for INT.
poplar::Tensor uniform(poplar::Graph &graph, const poplar::Tensor *seed, uint32_t seedModifier,
                       const poplar::Tensor &reference, const poplar::Type &outType, double minVal, double maxVal,
                       poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {});

// Sets the hardware generator that seedless calls draw from, from masterSeed (2 unsigned ints)
// and seedModifier, when prog runs.
void setSeed(poplar::Graph &graph, const poplar::Tensor &masterSeed, uint32_t seedModifier,
             poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {});

} // namespace poprand

#endif
