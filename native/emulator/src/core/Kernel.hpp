#pragma once
// The hook every emulated library op (poplin, popops, popnn, poprand, gcl) is built on.
//
// An op adds one Kernel to a Sequence. When the Sequence runs, for every replica the engine
//  1. gathers each input and output tensor into a contiguous row-major array (KernelArray):
//     FLOAT and HALF as float (HALF widened exactly), every other type raw in its own host type
//     (BOOL as unsigned char, INT as int, ...). A tensor that is one contiguous stride-1 view of a
//     FLOAT variable is not copied: the array points into the variable. Outputs start out holding the
//     tensors' current values, so an op may update them in place; outputs may alias inputs.
//  2. calls body(io) once.
//  3. writes each output back through its view: HALF rounded to nearest even, or stochastically after
//     poplar::setStochasticRounding(true) (seeded per replica, reproducible from run to run of a fresh
//     engine). The floating-point behaviour set by poplar::setFloatingPointBehaviour then applies: a
//     value past the half range saturates to +-65504, or becomes NaN with nanoo; with oflo on, an
//     overflow or infinity stops the run with poplar::application_runtime_error naming the kernel, its
//     debug context and the tensor; with inv on, a NaN does the same.
// Kernels run wherever their Sequence runs: under Repeat, If, Call, RepeatWhile*, and for every
// replica (replicas may run on several threads: a body must touch only its KernelIo). A body with much work splits
// it with io.workers().run(parts, part): the parts run on the engine's host workers, so they must touch disjoint
// output elements, and each part must compute the same values whichever thread runs it.
//
// For memory liveness (and so for when the engine holds a variable's storage), outputs count as written: an
// output covering a whole variable starts a new live range. An op whose body reads its outputs' values
// (accumulates into them, or updates only some elements) lists them in readOutputs, so they count as read too.
// Ops create their output tensors with graph.addVariable (or graph.clone) and map them with
// poputil::mapTensorLinearly or graph.setTileMapping; an unmapped variable fails Engine construction.
// Options (e.g. partialsType, availableMemoryProportion) are read with poplar_emulator::Access::option.
//
// Kernel.name is the op's debug context path (DebugContext::getPathName()), used in error messages
// and reports. Cost feeds the cycle model; tempBytes the memory model (counted while the kernel runs,
// on the IPUs its outputs live on).
//
// Typical use (an element-wise add):
//   poplar_emulator::Kernel k;
//   k.name = debugContext.getPathName();
//   k.inputs = {a, b};
//   k.outputs = {out};           // out = graph.clone(a), for example
//   k.cost.flops = a.numElements();
//   k.cost.half = a.elementType() == poplar::HALF;
//   k.body = [](poplar_emulator::KernelIo &io) {
//     const float *x = io.input(0).floats, *y = io.input(1).floats;
//     float *z = io.output(0).floats;
//     for (std::size_t i = 0; i < io.output(0).numElements; ++i) z[i] = x[i] + y[i];
//   };
//   poplar_emulator::addKernel(graph, prog, std::move(k));
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

#include "core/ProgramNode.hpp"
#include "kernels/part_runner.h"

namespace poplar_emulator {

struct KernelArray {
  poplar::Type type;               // the tensor's element type
  std::vector<std::size_t> shape;  // the tensor's shape
  std::size_t numElements = 0;
  float *floats = nullptr;         // FLOAT and HALF tensors, else null
  void *raw = nullptr;             // other types, else null

  // Raw elements as host type T; throws if T's size does not match the element type or the type is FLOAT/HALF.
  template <class T> T *as() const {
    if (raw == nullptr || sizeof(T) != elementBytes)
      throw std::logic_error("KernelArray::as: host type does not match the tensor's element type");
    return static_cast<T *>(raw);
  }
  std::size_t elementBytes = 0;
};

class KernelIo {
public:
  KernelIo(std::vector<KernelArray> &inputs, std::vector<KernelArray> &outputs, unsigned replica,
           unsigned replicationFactor, std::mt19937 &random, PartRunner &workers)
      : inputs_(inputs), outputs_(outputs), replica_(replica), replicationFactor_(replicationFactor),
        random_(random), workers_(workers) {}
  std::size_t numInputs() const { return inputs_.size(); }
  std::size_t numOutputs() const { return outputs_.size(); }
  const KernelArray &input(std::size_t i) const { return inputs_.at(i); }
  KernelArray &output(std::size_t i) { return outputs_.at(i); }
  unsigned replica() const { return replica_; }
  unsigned replicationFactor() const { return replicationFactor_; }
  // Seeded per kernel and replica when the engine is built; advances from run to run.
  std::mt19937 &random() { return random_; }
  // The host threads the body may split its work over.
  PartRunner &workers() { return workers_; }

private:
  std::vector<KernelArray> &inputs_;
  std::vector<KernelArray> &outputs_;
  unsigned replica_;
  unsigned replicationFactor_;
  std::mt19937 &random_;
  PartRunner &workers_;
};

struct KernelCost {
  double flops = 0;                         // arithmetic operations of one replica
  ComputeUnit unit = ComputeUnit::Vector;   // Amp for matmuls and convolutions
  bool half = false;                        // arithmetic in half precision
  double exchangeBytes = 0;                 // bytes moved between tiles (0: the engine assumes inputs+outputs)
  double ipuLinkBytes = 0;                  // bytes moved between IPUs of one replica
};

struct Kernel {
  std::string name;
  std::vector<poplar::Tensor> inputs;
  std::vector<poplar::Tensor> outputs;
  std::vector<std::size_t> readOutputs; // indices of the outputs whose current values the body reads
  std::function<void(KernelIo &)> body;
  KernelCost cost;
  std::size_t tempBytes = 0;
};

// Appends the kernel to `prog`. Throws poplar::poplar_error if a tensor is invalid or from another graph.
void addKernel(poplar::Graph &graph, poplar::program::Sequence &prog, Kernel kernel);

// A kernel that sees every replica at once (collectives): body gets one KernelIo per replica, in
// replica order. Cost is per replica; ipuLinkBytes of a collective is what one replica sends.
// `groups` lists the members of each replica group (replica order). When an engine runs only some
// replicas here (target.firstRuntimeReplica / numberRuntimeReplica), the inputs of a group's members on
// other instances are fetched over MPI and the body also gets a KernelIo for each of them (outputs
// discarded), so a body computes the same values whichever instance its replicas run on.
struct CrossReplicaKernel {
  std::string name;
  std::vector<poplar::Tensor> inputs;
  std::vector<poplar::Tensor> outputs;
  std::vector<std::size_t> readOutputs; // indices of the outputs whose current values the body reads
  std::function<void(std::vector<KernelIo> &)> body;
  std::vector<std::vector<unsigned>> groups;
  KernelCost cost;
  std::size_t tempBytes = 0;
};

void addCrossReplicaKernel(poplar::Graph &graph, poplar::program::Sequence &prog, CrossReplicaKernel kernel);

// Appends a step to a Sequence (for the emulator's own programs: copies, streams, CSR writes).
void appendStep(poplar::program::Sequence &prog, std::shared_ptr<StepNode> step);

} // namespace poplar_emulator
