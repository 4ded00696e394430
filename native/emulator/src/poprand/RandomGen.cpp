// poprand: counter-based generators keyed by the seed tensor's value, the seed modifier and the
// element index; without a seed tensor, the key comes from the engine's per-replica generator.
#include <poprand/RandomGen.hpp>

#include "kernels/random_kernels.h"
#include "ops/op_support.h"

#include <poplar/RandomSeed.hpp>

namespace poprand {
namespace {

void checkSeed(const poplar::Tensor *seed, const std::string &op) {
  if (seed == nullptr)
    return;
  if (!seed->valid() || seed->numElements() != 2 ||
      (seed->elementType() != poplar::UNSIGNED_INT && seed->elementType() != poplar::INT))
    poplar_emulator::opError(op, "the seed must be a tensor of 2 unsigned ints");
}

// Without a seed tensor the numbers come from the replica's hardware generator, whose state
// poplar::getHwSeeds reads into a [tiles, 4] tensor (every row the same): the state keys the draw,
// and the draw advances the state's counter before poplar::setHwSeeds puts it back. So seedless
// calls differ from call to call and run to run, and poprand::setSeed makes them reproducible.
poplar::Tensor readHardwareState(poplar::Graph &graph, poplar::program::Sequence &prog,
                                 const poplar::DebugContext &debugContext) {
  return poplar::getHwSeeds(graph, prog, {debugContext, "hwSeeds"});
}

// The key of one call: from the seed tensor (kernel input `index`), or from the hardware state
// (kernel output `index`), which it then advances.
poplar_emulator::RandomKey keyOf(poplar_emulator::KernelIo &io, bool seeded, std::size_t index, std::uint32_t modifier) {
  poplar_emulator::RandomKey key;
  key.modifier = modifier;
  if (seeded) {
    const unsigned *seed = io.input(index).as<unsigned>();
    key.seed[0] = seed[0];
    key.seed[1] = seed[1];
    return key;
  }
  poplar_emulator::KernelArray &state = io.output(index);
  unsigned *words = state.as<unsigned>();
  key.seed[0] = words[0];
  key.seed[1] = words[1] ^ words[3];
  key.stream = words[2];
  const std::uint64_t counter = (words[2] | (static_cast<std::uint64_t>(words[3]) << 32)) + 1;
  for (std::size_t row = 0; row * 4 < state.numElements; ++row) {
    words[row * 4 + 2] = static_cast<unsigned>(counter);
    words[row * 4 + 3] = static_cast<unsigned>(counter >> 32);
  }
  return key;
}

poplar::Tensor addDropout(poplar::Graph &graph, const poplar::Tensor *seed, std::uint32_t seedModifier,
                          const poplar::Tensor &input, const poplar::Tensor &reference, double keepProbability,
                          double scale, bool outputClonesInput, poplar::program::Sequence &prog,
                          const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "poprand::dropout");
  checkSeed(seed, op);
  if (!input.valid() || !input.elementType().isFloatingPoint())
    poplar_emulator::opError(op, "the input must be a float or half tensor");
  if (reference.valid() && reference.shape() != input.shape())
    poplar_emulator::opError(op, "the reference has shape " + poplar_emulator::shapeString(reference.shape()) +
                                     " but the input has " + poplar_emulator::shapeString(input.shape()));
  if (!(keepProbability > 0.0 && keepProbability <= 1.0))
    poplar_emulator::opError(op, "keepProbability is " + std::to_string(keepProbability) + "; expected (0, 1]");
  poplar::Tensor out = graph.clone(outputClonesInput || !reference.valid() ? input : reference, {debugContext, "dropout"});
  if (out.elementType() != input.elementType())
    out = graph.clone(input, {debugContext, "dropout"});
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {input};
  if (seed)
    kernel.inputs.push_back(*seed);
  kernel.outputs = {out};
  poplar::Tensor hardware;
  if (!seed) {
    hardware = readHardwareState(graph, prog, debugContext);
    kernel.outputs.push_back(hardware);
    kernel.readOutputs = {1}; // the draw advances the hardware state it reads
  }
  kernel.cost.flops = 4.0 * static_cast<double>(input.numElements());
  kernel.cost.half = input.elementType() == poplar::HALF;
  const bool seeded = seed != nullptr;
  kernel.body = [seeded, seedModifier, keepProbability, scale](poplar_emulator::KernelIo &io) {
    const poplar_emulator::RandomKey key = keyOf(io, seeded, 1, seedModifier);
    poplar_emulator::dropoutKernel(key, io.input(0).floats, io.output(0).floats, io.output(0).numElements,
                                   keepProbability, scale);
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
  if (!seed)
    poplar::setHwSeeds(graph, hardware, prog, {debugContext, "hwSeeds"});
  return out;
}

} // namespace

poplar::Tensor dropout(poplar::Graph &graph, const poplar::Tensor *seed, const uint32_t seedModifier,
                       const poplar::Tensor &input, const poplar::Tensor &reference, double keepProbability,
                       double scale, poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  return addDropout(graph, seed, seedModifier, input, reference, keepProbability, scale, false, prog, debugContext);
}

poplar::Tensor dropout(poplar::Graph &graph, const poplar::Tensor *seed, const uint32_t seedModifier,
                       const poplar::Tensor &input, const poplar::Tensor &reference, double keepProbability,
                       double scale, bool outputClonesInput, poplar::program::Sequence &prog,
                       const poplar::DebugContext &debugContext) {
  return addDropout(graph, seed, seedModifier, input, reference, keepProbability, scale, outputClonesInput, prog,
                    debugContext);
}

poplar::Tensor uniform(poplar::Graph &graph, const poplar::Tensor *seed, uint32_t seedModifier,
                       const poplar::Tensor &reference, const poplar::Type &outType, double minVal, double maxVal,
                       poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "poprand::uniform");
  checkSeed(seed, op);
  if (!reference.valid())
    poplar_emulator::opError(op, "the reference is not a tensor");
  const poplar_emulator::ElementKind kind = poplar_emulator::elementKindOf(outType, op, "the output type");
  if (kind != poplar_emulator::ElementKind::Float && kind != poplar_emulator::ElementKind::Half &&
      kind != poplar_emulator::ElementKind::Int)
    poplar_emulator::opError(op, "uniform gives float, half or int values");
  if (!(minVal <= maxVal))
    poplar_emulator::opError(op, "minVal " + std::to_string(minVal) + " exceeds maxVal " + std::to_string(maxVal));
  poplar::Tensor out = graph.clone(outType, reference, {debugContext, "uniform"});
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  if (seed)
    kernel.inputs.push_back(*seed);
  kernel.outputs = {out};
  poplar::Tensor hardware;
  if (!seed) {
    hardware = readHardwareState(graph, prog, debugContext);
    kernel.outputs.push_back(hardware);
    kernel.readOutputs = {1}; // the draw advances the hardware state it reads
  }
  kernel.cost.flops = 4.0 * static_cast<double>(out.numElements());
  kernel.cost.half = kind == poplar_emulator::ElementKind::Half;
  const bool seeded = seed != nullptr;
  kernel.body = [seeded, seedModifier, kind, minVal, maxVal](poplar_emulator::KernelIo &io) {
    const poplar_emulator::RandomKey key = keyOf(io, seeded, seeded ? 0 : 1, seedModifier);
    poplar_emulator::KernelArray &o = io.output(0);
    if (kind == poplar_emulator::ElementKind::Int)
      poplar_emulator::uniformIntKernel(key, o.as<int>(), o.numElements, static_cast<std::int64_t>(minVal),
                                        static_cast<std::int64_t>(maxVal));
    else
      poplar_emulator::uniformFloatKernel(key, o.floats, o.numElements, minVal, maxVal);
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
  if (!seed)
    poplar::setHwSeeds(graph, hardware, prog, {debugContext, "hwSeeds"});
  return out;
}

void setSeed(poplar::Graph &graph, const poplar::Tensor &masterSeed, uint32_t seedModifier,
             poplar::program::Sequence &prog, const poplar::DebugContext &debugContext) {
  const std::string op = poplar_emulator::opName(debugContext, "poprand::setSeed");
  checkSeed(&masterSeed, op);
  poplar::Tensor state = poplar_emulator::createResult(graph, poplar::UNSIGNED_INT,
                                                       {graph.getTarget().getNumTiles(), 4}, debugContext, "hwSeeds");
  poplar_emulator::Kernel kernel;
  kernel.name = op;
  kernel.inputs = {masterSeed};
  kernel.outputs = {state};
  kernel.body = [seedModifier](poplar_emulator::KernelIo &io) {
    const unsigned *seed = io.input(0).as<unsigned>();
    poplar_emulator::KernelArray &out = io.output(0);
    unsigned *words = out.as<unsigned>();
    // The generator's key from the seed and the modifier; its counter restarts at 0.
    const unsigned key[4] = {seed[0] ^ (seedModifier * 0x9e3779b9u), seed[1], 0u, 0u};
    for (std::size_t i = 0; i < out.numElements; ++i)
      words[i] = key[i % 4];
  };
  poplar_emulator::addKernel(graph, prog, std::move(kernel));
  poplar::setHwSeeds(graph, state, prog, {debugContext, "hwSeeds"});
}

} // namespace poprand
