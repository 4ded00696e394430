#include "core/Kernel.hpp"

#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/EngineImpl.hpp"
#include "core/GraphState.hpp"
#include "core/ReplicaContext.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {
namespace {

// Arrays of one replica's inputs and outputs, and the buffers behind those that are not zero-copy.
struct Gathered {
  std::vector<KernelArray> inputs, outputs;
  std::vector<std::vector<float>> floatBuffers;
  std::vector<std::vector<unsigned char>> rawBuffers;
  std::vector<bool> outputDirect;
};

KernelArray gather(ReplicaContext &r, const TensorLayout &t, Gathered &g, bool *direct) {
  KernelArray a;
  a.type = t.type;
  a.shape = t.shape;
  a.numElements = t.numElements();
  a.elementBytes = typeInfo(t.type).size;
  if (isFloatKernelType(t.type)) {
    if (float *d = r.directFloats(t)) {
      a.floats = d;
      if (direct) *direct = true;
      return a;
    }
    g.floatBuffers.emplace_back(a.numElements);
    r.readFloats(t, g.floatBuffers.back().data());
    a.floats = g.floatBuffers.back().data();
  } else {
    g.rawBuffers.emplace_back(a.numElements * a.elementBytes);
    r.readRaw(t, g.rawBuffers.back().data());
    a.raw = g.rawBuffers.back().data();
  }
  if (direct) *direct = false;
  return a;
}

void gatherAll(ReplicaContext &r, const std::vector<poplar::Tensor> &ins, const std::vector<poplar::Tensor> &outs, Gathered &g) {
  // Buffers are reserved up front so the arrays' pointers stay valid.
  g.floatBuffers.reserve(ins.size() + outs.size());
  g.rawBuffers.reserve(ins.size() + outs.size());
  for (const auto &t : ins) g.inputs.push_back(gather(r, *Access::impl(t), g, nullptr));
  for (const auto &t : outs) {
    bool direct = false;
    g.outputs.push_back(gather(r, *Access::impl(t), g, &direct));
    g.outputDirect.push_back(direct);
  }
}

void scatterAll(ReplicaContext &r, const std::vector<poplar::Tensor> &outs, Gathered &g, const std::string &name) {
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const TensorLayout &t = *Access::impl(outs[i]);
    if (g.outputs[i].floats) {
      if (g.outputDirect[i]) r.checkFloats(t, g.outputs[i].floats, name);
      else r.writeFloats(t, g.outputs[i].floats, name);
    } else {
      r.writeRaw(t, static_cast<const unsigned char *>(g.outputs[i].raw));
    }
  }
}

double bytesOf(const std::vector<poplar::Tensor> &ts) {
  double b = 0;
  for (const auto &t : ts) b += static_cast<double>(t.numElements() * typeInfo(t.elementType()).size);
  return b;
}

StepWork workOf(const KernelCost &c, const std::vector<poplar::Tensor> &ins, const std::vector<poplar::Tensor> &outs) {
  StepWork w;
  w.flops = c.flops;
  w.unit = c.unit;
  w.half = c.half;
  w.exchangeBytes = c.exchangeBytes > 0 ? c.exchangeBytes : bytesOf(ins) + bytesOf(outs);
  w.ipuLinkBytes = c.ipuLinkBytes;
  return w;
}

void checkTensors(const poplar::Graph &graph, const std::string &name, const std::vector<poplar::Tensor> &ins,
                  const std::vector<poplar::Tensor> &outs) {
  const GraphImpl &g = Access::impl(graph);
  auto check = [&](const std::vector<poplar::Tensor> &ts, const char *kind) {
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const auto &impl = Access::impl(ts[i]);
      if (!impl) throw poplar::poplar_error("op '" + name + "': " + kind + " " + std::to_string(i) + " is not a valid tensor");
      if (impl->graph != g.state) throw poplar::poplar_error("op '" + name + "': " + kind + " " + std::to_string(i) + " belongs to another graph");
      if (kind[0] == 'o' && impl->graph->vars[impl->segments.empty() ? 0 : impl->segments[0].var].constant && !impl->segments.empty())
        throw poplar::poplar_error("op '" + name + "': output " + std::to_string(i) + " is a constant");
    }
  };
  check(ins, "input");
  check(outs, "output");
}

class KernelStep : public StepNode {
public:
  explicit KernelStep(Kernel k) : StepNode(k.name), k_(std::move(k)) {}
  void access(StepAccess &a) const override {
    for (const auto &t : k_.inputs) a.reads.push_back(Access::impl(t).get());
    for (const auto &t : k_.outputs) a.writes.push_back(Access::impl(t).get());
    a.tempBytes = k_.tempBytes;
  }
  StepWork work() const override { return workOf(k_.cost, k_.inputs, k_.outputs); }
  void run(ReplicaContext &r) const override {
    Gathered g;
    gatherAll(r, k_.inputs, k_.outputs, g);
    KernelIo io(g.inputs, g.outputs, r.replica(), r.replicationFactor(), r.engine().kernelRandom(this, r.replica()));
    k_.body(io);
    scatterAll(r, k_.outputs, g, name());
  }

private:
  Kernel k_;
};

class CrossReplicaKernelStep : public StepNode {
public:
  explicit CrossReplicaKernelStep(CrossReplicaKernel k) : StepNode(k.name), k_(std::move(k)) {}
  void access(StepAccess &a) const override {
    for (const auto &t : k_.inputs) a.reads.push_back(Access::impl(t).get());
    for (const auto &t : k_.outputs) a.writes.push_back(Access::impl(t).get());
    a.tempBytes = k_.tempBytes;
  }
  StepWork work() const override {
    StepWork w = workOf(k_.cost, k_.inputs, k_.outputs);
    w.externalSync = true;
    return w;
  }
  bool acrossReplicas() const override { return true; }
  void runAll(const std::vector<ReplicaContext *> &replicas) const override {
    std::vector<Gathered> g(replicas.size());
    std::vector<KernelIo> ios;
    ios.reserve(replicas.size());
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      ReplicaContext &r = *replicas[i];
      gatherAll(r, k_.inputs, k_.outputs, g[i]);
      ios.emplace_back(g[i].inputs, g[i].outputs, r.replica(), r.replicationFactor(), r.engine().kernelRandom(this, r.replica()));
    }
    k_.body(ios);
    for (std::size_t i = 0; i < replicas.size(); ++i) scatterAll(*replicas[i], k_.outputs, g[i], name());
  }

private:
  CrossReplicaKernel k_;
};

} // namespace

void addKernel(poplar::Graph &graph, poplar::program::Sequence &prog, Kernel kernel) {
  checkTensors(graph, kernel.name, kernel.inputs, kernel.outputs);
  if (!kernel.body) throw poplar::poplar_error("op '" + kernel.name + "': the kernel has no body");
  appendStep(prog, std::make_shared<KernelStep>(std::move(kernel)));
}

void addCrossReplicaKernel(poplar::Graph &graph, poplar::program::Sequence &prog, CrossReplicaKernel kernel) {
  checkTensors(graph, kernel.name, kernel.inputs, kernel.outputs);
  if (!kernel.body) throw poplar::poplar_error("op '" + kernel.name + "': the kernel has no body");
  appendStep(prog, std::make_shared<CrossReplicaKernelStep>(std::move(kernel)));
}

} // namespace poplar_emulator
