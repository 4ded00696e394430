#include "core/Kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <sstream>
#include <string>

#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/EngineImpl.hpp"
#include "core/GraphState.hpp"
#include "core/Instances.hpp"
#include "core/Layout.hpp"
#include "core/ReplicaContext.hpp"
#include "core/TensorImpl.hpp"
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

// "[lo, hi]" of a floating-point array: what a floating-point exception's report shows of the op's operands.
std::string rangeOf(const KernelArray &a) {
  float lo = INFINITY, hi = -INFINITY;
  for (std::size_t i = 0; i < a.numElements; ++i) {
    lo = std::fmin(lo, a.floats[i]);
    hi = std::fmax(hi, a.floats[i]);
  }
  std::ostringstream os;
  os << "[" << lo << ", " << hi << "]";
  return os.str();
}

// The exception's message with the ranges of the op's floating-point inputs and of the output it raised on (before
// rounding into its type): where the values grew past the format. An input the op writes in place shows its result.
std::string withRanges(const std::string &what, const Gathered &g, std::size_t output) {
  std::ostringstream os;
  os << what << "; output " << typeInfo(g.outputs[output].type).name << shapeString(g.outputs[output].shape)
     << " range " << rangeOf(g.outputs[output]);
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    const KernelArray &in = g.inputs[i];
    if (!in.floats) continue;
    os << "; input " << i << " " << typeInfo(in.type).name << shapeString(in.shape) << " range " << rangeOf(in);
    for (const KernelArray &out : g.outputs)
      if (out.floats == in.floats) os << " (written in place)";
  }
  return os.str();
}

void scatterAll(ReplicaContext &r, const std::vector<poplar::Tensor> &outs, Gathered &g, const std::string &name) {
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const TensorLayout &t = *Access::impl(outs[i]);
    if (g.outputs[i].floats) {
      try {
        if (g.outputDirect[i]) r.checkFloats(t, g.outputs[i].floats, name);
        else r.writeFloats(t, g.outputs[i].floats, name);
      } catch (const poplar::application_runtime_error &e) {
        throw poplar::application_runtime_error(withRanges(e.what(), g, i));
      }
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

// Bytes of the inputs held on an IPU that holds none of the outputs. The SDK moves such operands over the IPU links
// (an implicit inter-IPU exchange) before the vertices run, so they cost link time as a Copy between IPUs does.
double crossIpuInputBytes(const std::vector<poplar::Tensor> &ins, const std::vector<poplar::Tensor> &outs) {
  if (ins.empty() || outs.empty()) return 0;
  const GraphState &g = *Access::impl(outs.front())->graph;
  const unsigned ipus = g.replicaTarget.getNumIPUs();
  if (ipus < 2) return 0;
  const long perIpu = static_cast<long>(g.replicaTarget.getTilesPerIPU());
  auto ipuOf = [&](long tile) { return std::min<long>(ipus - 1, tile / perIpu); };
  std::vector<bool> computes(ipus, false);
  for (const auto &t : outs)
    forEachTileRun(g, *Access::impl(t), [&](std::size_t, std::size_t, long tile) {
      if (tile >= 0) computes[static_cast<std::size_t>(ipuOf(tile))] = true;
    });
  double bytes = 0;
  for (const auto &t : ins) {
    const TensorImpl &in = *Access::impl(t);
    const double size = static_cast<double>(typeInfo(in.type).size);
    forEachTileRun(g, in, [&](std::size_t begin, std::size_t end, long tile) {
      if (tile >= 0 && !computes[static_cast<std::size_t>(ipuOf(tile))]) bytes += static_cast<double>(end - begin) * size;
    });
  }
  return bytes;
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
    for (std::size_t i : k_.readOutputs) a.reads.push_back(Access::impl(k_.outputs.at(i)).get());
    a.tempBytes = k_.tempBytes;
  }
  StepWork work() const override {
    StepWork w = workOf(k_.cost, k_.inputs, k_.outputs);
    const double crossing = crossIpuInputBytes(k_.inputs, k_.outputs);
    w.ipuLinkBytes += crossing;
    w.exchangeBytes = std::max(0.0, w.exchangeBytes - crossing);
    return w;
  }
  void run(ReplicaContext &r) const override {
    Gathered g;
    gatherAll(r, k_.inputs, k_.outputs, g);
    KernelIo io(g.inputs, g.outputs, r.replica(), r.replicationFactor(), r.engine().kernelRandom(this, r.replica()),
                r.engine().workers());
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
    for (std::size_t i : k_.readOutputs) a.reads.push_back(Access::impl(k_.outputs.at(i)).get());
    a.tempBytes = k_.tempBytes;
  }
  StepWork work() const override {
    StepWork w = workOf(k_.cost, k_.inputs, k_.outputs);
    w.externalSync = true;
    return w;
  }
  bool acrossReplicas() const override { return true; }
  void runAll(const std::vector<ReplicaContext *> &replicas) const override {
    if (replicas.empty()) return;
    EngineImpl &engine = replicas.front()->engine();
    std::vector<Gathered> g(replicas.size());
    std::vector<std::pair<unsigned, Gathered *>> members; // every replica the body sees, with its arrays
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      gatherAll(*replicas[i], k_.inputs, k_.outputs, g[i]);
      members.emplace_back(replicas[i]->replica(), &g[i]);
    }
    std::deque<Gathered> remote; // stable addresses for the members' arrays
    if (const Instances *instances = engine.instances())
      for (const auto &group : k_.groups)
        if (instances->spans(group)) fetchRemoteMembers(*instances, group, replicas, g, remote, members);
    std::sort(members.begin(), members.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    std::vector<KernelIo> ios;
    ios.reserve(members.size());
    for (auto &[replica, arrays] : members)
      ios.emplace_back(arrays->inputs, arrays->outputs, replica, engine.replicationFactor(),
                       engine.kernelRandom(this, replica), engine.workers());
    k_.body(ios);
    for (std::size_t i = 0; i < replicas.size(); ++i) scatterAll(*replicas[i], k_.outputs, g[i], name());
  }
  std::vector<std::vector<unsigned>> replicaGroups() const override { return k_.groups; }

private:
  static std::size_t arrayBytes(const poplar::Tensor &t) {
    const TensorLayout &l = *Access::impl(t);
    return l.numElements() * (isFloatKernelType(l.type) ? sizeof(float) : typeInfo(l.type).size);
  }
  static const unsigned char *arrayData(const KernelArray &a) {
    return a.floats ? reinterpret_cast<const unsigned char *>(a.floats) : static_cast<const unsigned char *>(a.raw);
  }
  // An array shaped like t for a replica of another instance: inputs filled from `src`, outputs zero.
  static KernelArray remoteArray(const poplar::Tensor &t, Gathered &into, const unsigned char *src) {
    const TensorLayout &l = *Access::impl(t);
    KernelArray a;
    a.type = l.type;
    a.shape = l.shape;
    a.numElements = l.numElements();
    a.elementBytes = typeInfo(l.type).size;
    if (isFloatKernelType(l.type)) {
      into.floatBuffers.emplace_back(a.numElements, 0.0f);
      if (src) std::memcpy(into.floatBuffers.back().data(), src, a.numElements * sizeof(float));
      a.floats = into.floatBuffers.back().data();
    } else {
      into.rawBuffers.emplace_back(a.numElements * a.elementBytes, 0);
      if (src) std::memcpy(into.rawBuffers.back().data(), src, a.numElements * a.elementBytes);
      a.raw = into.rawBuffers.back().data();
    }
    return a;
  }

  // Exchanges the inputs of a group spanning instances and adds arrays for each member on another
  // instance. Members travel as their kernel arrays (FLOAT and HALF as the floats the body reads), so
  // the body reduces exactly the values it would in one process.
  void fetchRemoteMembers(const Instances &instances, const std::vector<unsigned> &group,
                          const std::vector<ReplicaContext *> &replicas, std::vector<Gathered> &g, std::deque<Gathered> &remote,
                          std::vector<std::pair<unsigned, Gathered *>> &members) const {
    std::size_t blockBytes = 0;
    for (const auto &t : k_.inputs) blockBytes += arrayBytes(t);
    std::vector<unsigned> localMembers;
    std::vector<unsigned char> local;
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      unsigned r = replicas[i]->replica();
      if (std::find(group.begin(), group.end(), r) == group.end()) continue;
      localMembers.push_back(r);
      for (std::size_t k = 0; k < k_.inputs.size(); ++k) {
        const unsigned char *p = arrayData(g[i].inputs[k]);
        local.insert(local.end(), p, p + arrayBytes(k_.inputs[k]));
      }
    }
    if (localMembers.empty()) return;
    std::vector<unsigned char> all;
    std::vector<unsigned> allMembers;
    instances.allGather(group, localMembers, local, blockBytes, all, allMembers);
    for (std::size_t m = 0; m < allMembers.size(); ++m) {
      unsigned r = allMembers[m];
      if (std::find(localMembers.begin(), localMembers.end(), r) != localMembers.end()) continue;
      Gathered &into = remote.emplace_back();
      into.floatBuffers.reserve(k_.inputs.size() + k_.outputs.size());
      into.rawBuffers.reserve(k_.inputs.size() + k_.outputs.size());
      const unsigned char *src = all.data() + m * blockBytes;
      for (const auto &t : k_.inputs) {
        into.inputs.push_back(remoteArray(t, into, src));
        src += arrayBytes(t);
      }
      for (const auto &t : k_.outputs) into.outputs.push_back(remoteArray(t, into, nullptr));
      members.emplace_back(r, &into);
    }
  }

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
